import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFServer

/// `uaef serve`: the HTTP API, executing the runs it starts and any left unfinished.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (REST + JSON under /v1) and execute runs until stopped (SIGINT or SIGTERM).",
        discussion: """
            Requests to /v1 need a bearer token (uaef tokens issue) signed with the secret from \
            --token-secret-file or UAEF_TOKEN_SECRET; without a secret the server acts as a local \
            administrator of the default tenant and refuses to listen anywhere but loopback. \
            GET /healthz and /readyz need no token. Runs started through the API execute in this \
            process; runs of any tenant left unfinished (uaef submit, a stopped server) are claimed \
            as uaef worker does, and their outcomes settled and checkpointed when they end. Prints \
            "listening on http://HOST:PORT" when ready (--json: {"listening", "port"}); --port 0 \
            picks a free port. With --capability (repeatable) it executes only attempts of tasks \
            asking for those capabilities and queues the others for uaef worker processes that serve \
            them, as uaef worker --capability does; without, it executes every attempt of the runs it \
            orchestrates and also attempts other processes queued. On SIGTERM it stops accepting, \
            finishes requests in flight and leaves executing runs to be resumed. Exit 0 when stopped, \
            2 for a bad option, 3 when the store or the port is unavailable. The web console is at / \
            of the same address (sign in with a token; docs/console.md).
            """)

    @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The TCP port (0 picks a free one).") var port: Int = 8080
    @Option(help: "The largest request body accepted, in bytes (413 beyond).") var bodyLimit: Int = 1 << 20
    @Option(help: "Requests a second each principal may send on average (bursts of twice as many); 0 for no limit.")
    var rateLimit: Double = 1000
    @Option(help: "The one origin browsers may call the API from (CORS), or * for any. Default: no CORS.")
    var corsOrigin: String?
    @Option(
        help: """
            Whether the console's session cookie is Secure (HTTPS only): true behind a TLS proxy on \
            loopback. Default: Secure unless the server listens on loopback.
            """)
    var secureCookies: Bool?
    @Flag(help: "Print the listening line as JSON.") var json = false
    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var capabilityOptions: CapabilityOptions
    @OptionGroup var hostAccess: HostAccessOptions
    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var engineOptions: EngineOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
        guard bodyLimit >= 1024 else { throw ValidationError("--body-limit must be at least 1024 bytes") }
        guard rateLimit == 0 || (0.01...1_000_000).contains(rateLimit) else {
            throw ValidationError("--rate-limit must be 0 (no limit) or from 0.01 to 1000000 requests a second")
        }
        guard bodyLimit <= 1 << 30 else { throw ValidationError("--body-limit must be at most 1 GiB") }
    }

    func run() async throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.bodyLimit = bodyLimit
        configuration.rateLimit = rateLimit > 0 ? rateLimit : nil
        configuration.corsOrigin = corsOrigin
        configuration.secureCookies = secureCookies
        configuration.authority = try await tokenOptions.authority()
        configuration.connectorAccess = try hostAccess.connectorAccess()
        configuration.templates = try templateOptions.catalog()
        do {
            try configuration.check()
        } catch let refusal as ServerConfiguration.Refusal {
            throw CLIError.usage(refusal.description)
        }
        // Metrics go to one Prometheus registry that /metrics exports.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        configuration.metrics = registry
        let kinds = try hostAccess.kinds(granting: .administratorsAgents)
        do {
            // Until the server's own handlers take over, SIGINT and SIGTERM end the wait for the database.
            try await StopSignals.cancelling { [storeOptions = engineOptions.storeOptions] in
                try await storeOptions.waitUntilReachable()
            }
        } catch is CancellationError {
            return
        }
        try await engineOptions.withEngine(
            metrics: AttemptMetrics(), capabilities: capabilityOptions.served, kinds: kinds,
            connectors: configuration.connectorAccess
        ) { [configuration, host, port, json] engine in
            let signer = try await LedgerKeys.signer(engineOptions.storeOptions, store: engine.store)
            let runtime = ServerRuntime(engine: engine, signer: signer)
            if configuration.authority == nil {
                Console.warn(
                    "uaef serve: no token secret; every request acts as admin of tenant 'default' (loopback only)")
            }
            do {
                try await APIServer.run(configuration, runtime: runtime, logger: engine.logger) { port in
                    let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                    print(
                        json
                            ? JSONValue.object([
                                "listening": .string(url), "port": .number(Number(port)), "console": .string(url + "/"),
                            ]).jsonText
                            : "uaef serve: listening on \(url); the console is at \(url)/")
                    fflush(nil)
                }
            } catch {
                // Binding is the usual failure here (port in use, address not on this machine).
                throw CLIError.operational("uaef serve on \(host):\(port) stopped: \(error)")
            }
        }
    }
}
