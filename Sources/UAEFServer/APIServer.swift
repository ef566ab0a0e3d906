import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore
import UAEFTemplates
import UnixSignals

/// How `uaef serve` listens and whom it lets in.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (reported through `onListening`).
    public var port: Int = 8080
    /// Verifies bearer tokens; nil runs without authentication, which only loopback allows.
    public var authority: TokenAuthority?
    /// The largest request body accepted (413 beyond).
    public var bodyLimit: Int = 1 << 20
    /// How often tenants with unfinished runs are looked up to execute them.
    public var tenantLookupInterval: Duration = .seconds(2)
    /// Where `/metrics` reads from; give the registry the process bootstrapped swift-metrics with
    /// (nil: no `/metrics` route and no request metrics).
    public var metrics: PrometheusCollectorRegistry?
    /// Requests a second each principal may send on average (bursts of twice as many); nil for no limit.
    public var rateLimit: Double? = 1000
    /// Failed authentications a second each client address may make (bursts of twice as many, at
    /// least 2),
    /// checked before any token is: default 10.
    public var failedAuthenticationRate: Double = 10
    /// The origin allowed to call the API from a browser (CORS), or `*` for any; nil: no CORS
    /// headers at all.
    public var corsOrigin: String?
    /// How long a remote agent's claim or heartbeat holds its task.
    public var remoteLease: Duration = .seconds(30)
    /// How often tenants whose runs ended are settled (and a checkpoint signed).
    public var settlementInterval: Duration = .milliseconds(500)
    /// How often an idle event stream reads the log when no notification came: the store
    /// notifies commits at once (PostgreSQL: every process's; SQLite: this process's), so this
    /// bounds only the delay of events other processes commit to a SQLite file.
    public var eventStreamPollInterval: Duration = .seconds(1)
    /// What connectors may reach and use: public addresses only, unless the operator allows more
    /// (`--allow-network`, `--allow-environment-credentials`).
    public var connectorAccess = ConnectorAccess(policy: .publicOnly)
    /// How often connectors with triggers or subscriptions are looked up (new ones start
    /// consuming or delivering, removed ones stop).
    public var connectorLookupInterval: Duration = .seconds(5)

    /// The workflow templates offered (`/v1/templates`, the MCP tools, the console): the
    /// built-in ones and those of the operator's `--templates` directory.
    public var templates: TemplateCatalog = .builtIn

    /// Whether the console's session cookie is `Secure` (sent over HTTPS only); nil: everywhere
    /// but on a loopback address, where browsers are served over plain HTTP.
    public var secureCookies: Bool?

    public init() {}

    /// True when the server listens on a loopback address only.
    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.") }

    /// Why the server will not start with this configuration.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// Throws unless it is safe to serve: without authentication only on a loopback address.
    public func check() throws {
        if authority == nil && !isLoopback {
            throw Refusal(
                description:
                    "refusing to serve on \(host) without authentication; give --token-secret-file (or UAEF_TOKEN_SECRET) or listen on 127.0.0.1"
            )
        }
        guard (0...65535).contains(port) else {
            throw Refusal(description: "--port \(port) is not a TCP port (0-65535)")
        }
    }
}

/// The HTTP API: `/healthz`, `/readyz` and the authenticated `/v1` routes, with the run
/// executor, the per-tenant workers and settlement as services of one group. SIGTERM or SIGINT
/// stops accepting connections, lets in-flight requests finish and cancels executing runs,
/// which stay resumable.
public enum APIServer {
    /// Serves until a termination signal (or cancellation); `onListening` gets the bound port.
    public static func run(
        _ configuration: ServerConfiguration, runtime: ServerRuntime, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try configuration.check()
        let ledgerChanges = LedgerChanges()
        let executor = RunExecutor(ledgerChanges: ledgerChanges)
        let router = makeRouter(configuration, runtime: runtime, executor: executor, ledgerChanges: ledgerChanges)
        let application = Application(
            router: router,
            // A keep-alive connection with no request in flight is closed after a minute.
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "uaef"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        let services: [any Service] =
            executionServices(
                configuration, runtime: runtime, executor: executor, ledgerChanges: ledgerChanges) + [
                ConnectorWorkerService(
                    workers: ConnectorWorkers(
                        store: runtime.engine.store, engine: runtime.engine.forTenant,
                        dispatch: .server(executor: executor, ledgerChanges: ledgerChanges),
                        triggers: runtime.workflowTriggers, access: configuration.connectorAccess,
                        secrets: runtime.engine.configuration.secrets,
                        lookupInterval: configuration.connectorLookupInterval, commits: runtime.eventCommits,
                        logger: logger)),
                ScheduleService(
                    scheduler: Scheduler(engine: runtime.engine, leased: true) { start, engine in
                        if let created = start.createdRecord {
                            executor.execute(created, definition: start.definition, engine: engine)
                        }
                    }),
                application,
            ]
        // Services stop in reverse order: the HTTP server first (in-flight requests finish),
        // then the workers, settlement and the executor.
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// What executes runs beside whatever answers requests (the HTTP API, `uaef mcp`): the relay
    /// of committed events, the report cache's invalidator, the analytics roll-up, the executor of the runs started
    /// here, settlement and checkpoints after runs end, and the workers resuming unfinished runs.
    static func executionServices(
        _ configuration: ServerConfiguration, runtime: ServerRuntime, executor: RunExecutor,
        ledgerChanges: LedgerChanges
    ) -> [any Service] {
        [
            EventCommitRelay(runtime: runtime),
            ReportCacheInvalidator(runtime: runtime, pollInterval: configuration.eventStreamPollInterval),
            AnalyticsService(runtime: runtime, pollInterval: configuration.eventStreamPollInterval),
            executor,
            SettlementService(
                runtime: runtime, ledgerChanges: ledgerChanges, interval: configuration.settlementInterval),
            TenantWorkers(
                runtime: runtime, ledgerChanges: ledgerChanges, lookupInterval: configuration.tenantLookupInterval),
        ]
    }

    /// The routes of the API; the runs they start are executed by `executor`, or left to the
    /// workers when it is nil.
    static func makeRouter(
        _ configuration: ServerConfiguration, runtime: ServerRuntime, executor: RunExecutor?,
        ledgerChanges: LedgerChanges, announcer: (any RunAnnouncer)? = nil
    ) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        // A server span per request, in the trace of the request's `traceparent` (when tracing is on).
        if TraceContext.isEnabled { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.get("healthz") { _, _ in JSONMessage.response(["status": "ok"]) }
        router.get("openapi.json") { _, _ in JSONMessage.response(text: OpenAPISpec.text) }
        router.get("readyz") { _, _ in
            do {
                _ = try await runtime.engine.store.runs(tenant: "", matching: RunFilter(), limit: 1)
                return JSONMessage.response(["status": "ready"])
            } catch {
                throw Problem(.serviceUnavailable, "not-ready", "the store cannot be read: \(error)")
            }
        }
        if configuration.metrics != nil { router.add(middleware: MetricsMiddleware()) }
        if let origin = configuration.corsOrigin {
            router.add(
                middleware: CORSMiddleware(
                    allowOrigin: origin == "*" ? .all : .custom(origin),
                    allowHeaders: [.authorization, .contentType, .idempotencyKey, .lastEventID],
                    allowMethods: [.get, .post, .put, .delete]))
        }
        // Failed authentications per client address: tokens and webhook signatures alike.
        let failures = RateLimiter(
            rate: configuration.failedAuthenticationRate, burst: max(2, 2 * configuration.failedAuthenticationRate))
        HookRoutes(
            runtime: runtime, executor: executor, announcer: announcer, ledgerChanges: ledgerChanges,
            failures: failures, bodyLimit: configuration.bodyLimit
        ).add(to: router)
        let operations = APIOperations(
            runtime: runtime, executor: executor, ledgerChanges: ledgerChanges, announcer: announcer,
            templates: configuration.templates)
        SlackRoutes(
            operations: operations, access: configuration.connectorAccess, failures: failures,
            bodyLimit: configuration.bodyLimit
        ).add(to: router)
        var authenticated = router.group().add(
            middleware: AuthenticationMiddleware(
                authority: configuration.authority, store: runtime.engine.store, failures: failures))
        // Requests per principal, through the API and the console together.
        let requests = configuration.rateLimit.map { RateLimiter(rate: $0, burst: max(1, 2 * $0)) }
        if let requests { authenticated = authenticated.add(middleware: RateLimitMiddleware(limiter: requests)) }
        if let registry = configuration.metrics {
            MetricsRoute(runtime: runtime, registry: registry).add(to: authenticated)
        }
        let v1 = authenticated.group("v1")
        WorkflowRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        TemplateRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        RunRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        AgentRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        RemoteAgentRoutes(
            runtime: runtime, bodyLimit: configuration.bodyLimit, leaseDuration: configuration.remoteLease
        )
        .add(to: v1)
        SettlementRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        LedgerRoutes(operations: operations).add(to: v1)
        AnalyticsRoutes(operations: operations).add(to: v1)
        MCPRoute(
            toolbox: MCPToolbox(operations: operations), bodyLimit: configuration.bodyLimit,
            loopbackOnly: configuration.authority == nil
        ).add(to: v1)
        SecretRoutes(runtime: runtime, bodyLimit: configuration.bodyLimit).add(to: v1)
        ConnectorRoutes(runtime: runtime, bodyLimit: configuration.bodyLimit).add(to: v1)
        DeliveryRoutes(runtime: runtime, bodyLimit: configuration.bodyLimit).add(to: v1)
        ScheduleRoutes(operations: operations, bodyLimit: configuration.bodyLimit).add(to: v1)
        let events = EventStreamRoutes(runtime: runtime, pollInterval: configuration.eventStreamPollInterval)
        events.add(to: v1)
        ConsoleRoutes(
            operations: operations, authority: configuration.authority,
            secureCookies: configuration.secureCookies ?? !configuration.isLoopback, failures: failures,
            rateLimiter: requests,
            bodyLimit: configuration.bodyLimit, events: events
        ).add(to: router)
        return router
    }
}

/// The tenants' schedules as a service of the server: the runs their slots start execute here.
struct ScheduleService: Service {
    let scheduler: Scheduler

    func run() async throws {
        await cancelWhenGracefulShutdown { await scheduler.run() }
    }
}

/// The connectors' consumers and subscribers as a service of the server: stopped on shutdown
/// (messages in flight come back to the next consumer; claimed deliveries to the next sender
/// once their claim ends).
struct ConnectorWorkerService: Service {
    let workers: ConnectorWorkers

    func run() async throws {
        await cancelWhenGracefulShutdown { await workers.run() }
    }
}
