import ArgumentParser
import Foundation
import Logging
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFLLM
import UAEFSecrets
import UAEFSettlement
import UAEFStore

/// Options that build an ``Engine``: the store and runner settings.
struct EngineOptions: ParsableArguments {
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Attempts executing at once in this process.")
    var maxConcurrency: Int = 64

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level on standard error: trace, debug, info, notice, warning, error, critical. Default: $UAEF_LOG_LEVEL, else warning.",
            valueName: "level"))
    var logLevel: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log lines as text or json (one JSON object per line, for log shippers). Default: $UAEF_LOG_FORMAT, else text.",
            valueName: "format"))
    var logFormat: String?

    @Option(
        help: ArgumentHelp(
            "How long a run's lease (and a queued attempt's) lasts without renewal: the longest another node waits to take over a dead node's work. Renewed once a quarter of it has passed, looked at every 250 ms (attempts: every second). At least 2s.",
            valueName: "duration"))
    var lease: String = "15s"

    /// The lease duration given, once validated.
    private var leaseDuration: Duration? { DurationText.parse(lease).flatMap { $0 >= .seconds(2) ? $0 : nil } }

    @Option(
        help: ArgumentHelp(
            "A file holding the 32-byte master key (base64) that seals secrets. Default: $UAEF_MASTER_KEY (the key itself), else none.",
            valueName: "path"))
    var masterKeyFile: String?

    /// The secret box of the configured master key, or nil.
    func secretBox() throws -> SecretBox? {
        let text: String
        if let path = masterKeyFile {
            text = try Console.readFile(path)
        } else if let key = ProcessInfo.processInfo.environment["UAEF_MASTER_KEY"], !key.isEmpty {
            text = key
        } else {
            return nil
        }
        do {
            return try SecretBox(base64: text)
        } catch let failure as SecretBox.Failure {
            throw CLIError.usage("\(masterKeyFile.map { "--master-key-file \($0)" } ?? "UAEF_MASTER_KEY"): \(failure)")
        }
    }

    /// The log format after flag and environment.
    private var resolvedLogFormat: String {
        logFormat ?? ProcessInfo.processInfo.environment["UAEF_LOG_FORMAT"] ?? "text"
    }

    func validate() throws {
        guard ["text", "json"].contains(resolvedLogFormat) else {
            throw ValidationError("log format \(resolvedLogFormat) is not one of text, json")
        }
        guard maxConcurrency >= 1 else { throw ValidationError("--max-concurrency must be at least 1") }
        guard leaseDuration != nil else {
            throw ValidationError("--lease \(lease): give a duration of at least 2s, such as 15s or 1m")
        }
        guard resolvedLogLevel != nil else {
            let valid = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("log level \(logLevel ?? "") is not one of \(valid)")
        }
    }

    /// The log level after flag and environment.
    var resolvedLogLevel: Logger.Level? {
        Logger.Level(rawValue: logLevel ?? ProcessInfo.processInfo.environment["UAEF_LOG_LEVEL"] ?? "warning")
    }

    /// The engine on the store; `metrics` counts its attempts; with `waiting`, an unreachable
    /// PostgreSQL is waited for (see ``StoreOptions/open(waiting:)``).
    /// `kinds` are the agent kinds it offers (default: every built-in kind, unrestricted, as the
    /// single-user CLI offers them).
    func engine(
        metrics: AttemptMetrics? = nil, capabilities: Set<String>? = nil, waiting: Bool = false,
        kinds: AgentKindRegistry = BuiltInAgents.registry
    ) async throws -> Engine {
        try engine(
            on: try await storeOptions.open(waiting: waiting), metrics: metrics, capabilities: capabilities,
            kinds: kinds, connectors: .local)
    }

    /// Runs `body` with the engine on the store, for long-running processes: the store's
    /// resources (PostgreSQL's connection pool) live exactly as long as `body` (see
    /// ``StoreOptions/withStore(waiting:_:)``).
    func withEngine<Result>(
        metrics: AttemptMetrics? = nil, capabilities: Set<String>? = nil, waiting: Bool = false,
        kinds: AgentKindRegistry, connectors: ConnectorAccess, _ body: (Engine) async throws -> Result
    ) async throws -> Result {
        try await storeOptions.withStore(waiting: waiting) { store in
            try await body(
                try engine(
                    on: store, metrics: metrics, capabilities: capabilities, kinds: kinds, connectors: connectors))
        }
    }

    /// The engine on `store`; the connector kinds (`webhook.send`, `sqs.send`) reach other
    /// systems under `connectors`, as the `http` kind among `kinds` does under its policy.
    private func engine(
        on store: any WorkflowStore, metrics: AttemptMetrics?, capabilities: Set<String>?, kinds: AgentKindRegistry,
        connectors: ConnectorAccess
    ) throws -> Engine {
        var configuration = Runner.Configuration()
        configuration.capabilities = capabilities
        configuration.leaseDuration = leaseDuration ?? configuration.leaseDuration
        configuration.maxConcurrency = maxConcurrency
        configuration.metrics = metrics
        configuration.secrets = try secretBox()
        let format: LogLineHandler.Format = resolvedLogFormat == "json" ? .json : .text
        var logger = Logger(label: "uaef") { label in LogLineHandler(label: label, format: format) }
        logger.logLevel = resolvedLogLevel ?? .warning
        return Engine(
            store: store,
            kinds: Self.withStoreKinds(kinds, store: store, secrets: configuration.secrets, connectors: connectors),
            sections: [SettlementSection(), TriggersSection()], tenant: storeOptions.tenant,
            configuration: configuration, logger: logger)
    }
}

extension EngineOptions {
    /// `kinds` with the kinds that need the store: the connector kinds (`webhook.send`,
    /// `sqs.send`, `servicebus.send`, reaching other systems under `connectors`) and `llm`
    /// (whose capability tools run the other kinds, llm agents excepted; whose MCP servers may be
    /// programs only where `kinds` offers `command`, with its environment).
    static func withStoreKinds(
        _ kinds: AgentKindRegistry, store: any WorkflowStore, secrets: SecretBox?, connectors: ConnectorAccess
    ) -> AgentKindRegistry {
        var kinds = kinds
        kinds.registerConnectorKinds(store: store, secrets: secrets, access: connectors)
        let toolKinds = Engine.prepare(kinds, store: store, secrets: secrets)
        kinds.register(
            LLMKind(
                store: store, policy: connectors.policy,
                capabilities: CapabilityInvoker(store: store, kinds: toolKinds),
                programs: (kinds["command"] as? CommandAgent)?.environmentPolicy))
        return kinds
    }
}

/// The person or program behind CLI changes, recorded as the actor of their events.
enum CLIActor {
    static var current: String {
        "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName)
    }
}
