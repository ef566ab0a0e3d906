import ArgumentParser
import Foundation
import Logging
import Synchronization
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFLambda
import UAEFServer

/// `uaef lambda`: the AWS Lambda custom runtime (`bootstrap`).
struct LambdaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Run as an AWS Lambda function (the bootstrap of a provided.al2023 runtime).",
        discussion: """
            Takes invocations from the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API and answers each \
            with one handler, named by --handler or, as Lambda sets it, $_HANDLER: api (API Gateway HTTP \
            API requests, payload 2.0, answered by the /v1 routes of uaef serve with its bearer tokens), \
            queue (SQS batches of work messages: run.start, runs.resume; answered with the failed \
            messages' ids) or scheduled (an EventBridge schedule: unfinished runs resumed, outcomes \
            settled, approvals expired, a ledger checkpoint signed). The store must be PostgreSQL (--store or $UAEF_STORE). \
            With UAEF_CONFIG_SECRET (a Secrets Manager secret's ARN) the store URL, token secret and \
            ledger key are read from that secret's JSON value {"store", "token_secret", "ledger_key"} \
            at start, with the function's role credentials. \
            A handler is stopped half a second before an invocation's deadline, leaving runs in flight \
            resumable. A failure to start (no store, no token secret for api) is reported to Lambda as \
            an init error. When the binary is named bootstrap it runs this command. See \
            docs/deploying.md. Exit 3 when the function cannot start or the Runtime API fails (Lambda \
            then starts a new environment), 2 for a bad option.
            """)

    /// The handlers one bootstrap serves.
    enum Handler: String, CaseIterable, ExpressibleByArgument {
        case api, queue, scheduled
    }

    @Option(help: "The handler: api, queue or scheduled. Default: $_HANDLER.") var handler: Handler?
    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var hostAccess: HostAccessOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["AWS_LAMBDA_RUNTIME_API"], !endpoint.isEmpty else {
            throw CLIError.usage(
                "uaef lambda runs inside AWS Lambda: AWS_LAMBDA_RUNTIME_API (host:port of the Runtime API) is not set; locally, start uaef dev lambda-runtime and set it to its address"
            )
        }
        let client = LambdaRuntimeClient(endpoint: endpoint)
        var logger = Logger(label: "uaef-lambda") { label in LogLineHandler(label: label, format: .json) }
        logger.logLevel = engineOptions.resolvedLogLevel ?? .info
        let started = Mutex(false)
        var engineOptions = engineOptions
        var tokenOptions = tokenOptions
        do {
            let handler = try chosenHandler(environment)
            if let secret = environment["UAEF_CONFIG_SECRET"], !secret.isEmpty {
                try apply(
                    try await FunctionSecrets.read(secret, logger: logger), to: &engineOptions, &tokenOptions)
            }
            guard engineOptions.storeOptions.storeURL.hasPrefix("postgres") else {
                throw CLIError.usage(
                    "a Lambda function needs the PostgreSQL store (--store or UAEF_STORE postgres://…): its file system does not outlive it"
                )
            }
            // Every instance of every function signs checkpoints with one key: none is made here.
            guard let key = engineOptions.storeOptions.ledgerKey ?? environment["UAEF_LEDGER_KEY"],
                FileManager.default.fileExists(atPath: key)
            else {
                throw CLIError.usage(
                    "a Lambda function needs the ledger signing key, the same in every instance: give ledger_key in the UAEF_CONFIG_SECRET secret, or a key file by --ledger-key or UAEF_LEDGER_KEY (uaef ledger key makes one)"
                )
            }
            let authority = try await tokenOptions.authority()
            if handler == .api, authority == nil {
                throw CLIError.usage(
                    "the api handler needs a token secret (UAEF_TOKEN_SECRET or --token-secret-file, or a JWKS): it answers the internet"
                )
            }
            try await engineOptions.withEngine(
                kinds: try hostAccess.kinds(granting: .administratorsAgents),
                connectors: try hostAccess.connectorAccess()
            ) { engine in
                let signer = try await LedgerKeys.signer(engineOptions.storeOptions, store: engine.store)
                let runtime = ServerRuntime(engine: engine, signer: signer)
                // The tenants' connectors, for the deliveries the queue and scheduled handlers send.
                let connectors = {
                    ConnectorWorkers(
                        store: engine.store, engine: engine.forTenant, dispatch: .queueing,
                        triggers: runtime.workflowTriggers, access: try hostAccess.connectorAccess(),
                        secrets: engine.configuration.secrets, commits: nil, logger: logger)
                }
                var configuration = ServerConfiguration()
                configuration.authority = authority
                // API Gateway serves browsers over HTTPS only.
                configuration.secureCookies = true
                try await LambdaRuntime.run(client: client, logger: logger) {
                    started.withLock { $0 = true }
                    switch handler {
                    case .api:
                        let announcer = try WorkQueueAnnouncer.configured(by: environment, logger: logger)
                        return APIHandler(
                            api: APIResponder(configuration: configuration, runtime: runtime, announcer: announcer))
                    case .queue: return QueueHandler(runtime: runtime, connectors: try connectors())
                    case .scheduled: return ScheduledHandler(runtime: runtime, connectors: try connectors())
                    }
                }
            }
        } catch {
            if !started.withLock({ $0 }) {
                try? await client.failInitialization(
                    with: LambdaErrorReport(type: "Runtime.InitError", message: "\(error)"), logger: logger)
            }
            await client.shutdown()
            throw CLIError.operational("uaef lambda: \(error)")
        }
        await client.shutdown()
    }

    /// Points the options at `secrets`: the store URL as given, the token secret and the ledger
    /// key in files only this user may read, in a directory of its own under the temporary
    /// directory (Lambda's `/tmp` belongs to the execution environment alone).
    private func apply(_ secrets: FunctionSecrets, to engine: inout EngineOptions, _ tokens: inout TokenOptions)
        throws
    {
        if let store = secrets.store { engine.storeOptions.store = store }
        guard secrets.tokenSecret != nil || secrets.ledgerKey != nil else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "uaef-secrets-\(getpid())")
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        func write(_ text: String, _ name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            guard
                FileManager.default.createFile(
                    atPath: path, contents: Data((text + "\n").utf8),
                    attributes: [.posixPermissions: 0o600])
            else { throw CLIError.operational("cannot write \(path)") }
            return path
        }
        if let token = secrets.tokenSecret { tokens.tokenSecretFile = try write(token, "token-secret") }
        if let key = secrets.ledgerKey { engine.storeOptions.ledgerKey = try write(key, "ledger.key") }
    }

    /// The handler named by `--handler`, else by `_HANDLER`.
    private func chosenHandler(_ environment: [String: String]) throws -> Handler {
        if let handler { return handler }
        let named = environment["_HANDLER"] ?? ""
        guard let handler = Handler(rawValue: named) else {
            throw CLIError.usage(
                "name the handler with --handler or _HANDLER (the function's Handler setting): \(Handler.allCases.map(\.rawValue).joined(separator: ", ")); got \(named.isEmpty ? "none" : named.prefix(40).debugDescription)"
            )
        }
        return handler
    }
}
