import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Prometheus
import Synchronization
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFSecrets
import UAEFServer
import UAEFSettlement
import UAEFStore
import UAEFTestSupport

/// A real `APIServer` on a free loopback port over a real SQLite file, spoken to over HTTP.
struct ServerHarness {
    static let secret = Array("a-test-secret-that-is-long-enough-for-hs256".utf8)
    static let audience = "uaef-tests"
    /// swift-metrics is bootstrapped once per process; every server of the test process shares it.
    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    let base: String
    let authority: TokenAuthority?
    let location: TestStore
    let store: any WorkflowStore
    let runtime: ServerRuntime
    let configuration: ServerConfiguration
    private let server: Task<Void, any Error>

    /// Starts a server; with `authenticated` it checks tokens signed with ``secret`` for ``audience``.
    static func start(
        authenticated: Bool = true, bodyLimit: Int = 1 << 20, remoteLease: Duration = .seconds(30),
        jwks: String? = nil, rateLimit: Double? = nil, corsOrigin: String? = nil, secrets: SecretBox? = nil,
        backend: StoreBackend = .sqlite, eventStreamPollInterval: Duration = .seconds(1),
        kinds: AgentKindRegistry = BuiltInAgents.registry, failedAuthenticationRate: Double = 10,
        outbound: OutboundPolicy = .publicOnly, slackApprovals: Bool = false
    ) async throws -> ServerHarness {
        let location = try TestStore(backend, label: "server")
        let store = try await location.open()
        var logger = Logger(label: "uaef-test")
        logger.logLevel = .warning
        var runner = Runner.Configuration()
        runner.metrics = AttemptMetrics()
        runner.secrets = secrets
        // As `uaef serve`: connectors reach public addresses and what `outbound` (--allow-network) adds.
        var kinds = kinds
        let connectorAccess = ConnectorAccess(policy: outbound, slackApprovals: slackApprovals)
        kinds.registerConnectorKinds(store: store, secrets: secrets, access: connectorAccess)
        let engine = Engine(
            store: store, kinds: kinds, sections: [SettlementSection(), TriggersSection()], configuration: runner,
            logger: logger)
        let runtime = ServerRuntime(engine: engine, signer: try NoteSigner(generatingFor: "uaef.test/ledger"))
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.bodyLimit = bodyLimit
        configuration.remoteLease = remoteLease
        configuration.metrics = metrics
        configuration.rateLimit = rateLimit
        configuration.corsOrigin = corsOrigin
        configuration.failedAuthenticationRate = failedAuthenticationRate
        configuration.eventStreamPollInterval = eventStreamPollInterval
        configuration.connectorAccess = connectorAccess
        configuration.connectorLookupInterval = .milliseconds(200)
        configuration.authority =
            authenticated ? try await TokenAuthority(.init(secret: secret, jwks: jwks, audience: audience)) : nil
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Task {
            try await APIServer.run(configuration, runtime: runtime, logger: logger) { port in
                continuation.yield(port)
            }
        }
        guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
        return ServerHarness(
            base: "http://127.0.0.1:\(port)", authority: configuration.authority, location: location, store: store,
            runtime: runtime, configuration: configuration, server: server)
    }

    /// Runs `body` with this server, then stops it, also when `body` throws; a server that
    /// failed while serving fails the test after `body`'s own failure.
    func serving(_ body: (ServerHarness) async throws -> Void) async throws {
        let failure: (any Error)?
        do {
            try await body(self)
            failure = nil
        } catch {
            failure = error
        }
        try await stop()
        if let failure { throw failure }
    }

    /// Stops the server and removes its store; throws what ended the server, unless it was
    /// stopping as asked.
    func stop() async throws {
        server.cancel()
        let result = await server.result
        location.remove()
        if case .failure(let error) = result, !(error is CancellationError) { throw error }
    }

    /// A token for `subject` in `tenant` with `roles`.
    func token(_ tenant: String, _ roles: Set<Role>, subject: String = "tester") async throws -> String {
        try await authority!.issue(
            for: Principal(subject: subject, tenant: tenant, roles: roles), lifetime: .seconds(600))
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: JSONValue? { try? JSONValue(jsonText: body) }
        /// A member of the JSON object body.
        subscript(_ key: String) -> JSONValue? { json?.objectValue?[key] }
    }

    /// Sends one request and reads the whole reply.
    func send(
        _ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 16 << 20)
        let reply = Reply(
            status: Int(response.status.code), headers: response.headers,
            body: buffer.readString(length: buffer.readableBytes) ?? "")
        ResponseLog.shared?.record(method: method.rawValue, path: path, reply: reply)
        return reply
    }

    /// Polls a run until it ends (or 20 s pass) and returns its last JSON.
    func waitForRun(_ id: String, token: String?) async throws -> Reply {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let reply = try await send(.GET, "/v1/runs/\(id)", token: token)
            let status = reply["status"]?.stringValue ?? ""
            if !["pending", "running"].contains(status) || ContinuousClock.now > deadline { return reply }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static let helloWorkflow = Fixtures.helloWorkflow
}

/// Every reply the server tests see, as JSON lines in the file `UAEF_API_RESPONSE_LOG` names, for
/// scripts/api_conformance.py to check against docs/openapi.json after the tests.
final class ResponseLog: Sendable {
    static let shared: ResponseLog? = ProcessInfo.processInfo.environment["UAEF_API_RESPONSE_LOG"].flatMap {
        ResponseLog(path: $0)
    }

    private let handle: Mutex<FileHandle>

    private init?(path: String) {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        handle.seekToEndOfFile()
        self.handle = Mutex(handle)
    }

    func record(method: String, path: String, reply: ServerHarness.Reply) {
        let line: JSONValue = [
            "method": .string(method), "path": .string(path), "status": .number(Number(reply.status)),
            "content_type": .string(reply.headers["Content-Type"].first ?? ""), "body": .string(reply.body),
        ]
        handle.withLock { $0.write(Data((line.jsonText + "\n").utf8)) }
    }
}
