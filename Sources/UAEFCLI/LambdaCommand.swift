import ArgumentParser
import Foundation
import Logging
import Synchronization
import UAEFAgents
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
        do {
            let handler = try chosenHandler(environment)
            guard engineOptions.storeOptions.storeURL.hasPrefix("postgres") else {
                throw CLIError.usage(
                    "a Lambda function needs the PostgreSQL store (--store or UAEF_STORE postgres://…): its file system does not outlive it"
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
                var configuration = ServerConfiguration()
                configuration.authority = authority
                try await LambdaRuntime.run(client: client, logger: logger) {
                    started.withLock { $0 = true }
                    switch handler {
                    case .api: return APIHandler(api: APIResponder(configuration: configuration, runtime: runtime))
                    case .queue: return QueueHandler(runtime: runtime)
                    case .scheduled: return ScheduledHandler(runtime: runtime)
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
