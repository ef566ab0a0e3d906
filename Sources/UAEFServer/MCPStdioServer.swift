import Logging
import MCP
import ServiceLifecycle
import Synchronization
import UAEFStore
import UAEFTemplates
import UnixSignals

/// `uaef mcp`: the MCP tools (``MCPToolbox``) on standard input and output, one JSON-RPC message
/// per line, for an assistant that starts `uaef` as its tool server; the caller is the principal
/// the operator configured on the command line.
///
/// Runs it starts execute in this process, as `uaef serve`'s do, with the same services around
/// them (runs left unfinished are resumed, ended ones settled and checkpointed). It stops when the
/// assistant closes standard input or on SIGTERM/SIGINT; runs still executing stay resumable.
/// Nothing but protocol messages is written to standard output.
public enum MCPStdioServer {
    /// Serves `principal` until standard input ends or a termination signal, offering `templates`.
    public static func run(
        runtime: ServerRuntime, principal: Principal, templates: TemplateCatalog = .builtIn, logger: Logger
    ) async throws {
        let ledgerChanges = LedgerChanges()
        let executor = RunExecutor(ledgerChanges: ledgerChanges)
        let toolbox = MCPToolbox(
            operations: APIOperations(
                runtime: runtime, executor: executor, ledgerChanges: ledgerChanges, templates: templates))
        let services =
            APIServer.executionServices(
                ServerConfiguration(), runtime: runtime, executor: executor, ledgerChanges: ledgerChanges)
            + [StdioSession(toolbox: toolbox, principal: principal, logger: logger)]
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        // The session ending (standard input closed) stops the others gracefully.
        configurations[configurations.count - 1].successTerminationBehavior = .gracefullyShutdownGroup
        let group = ServiceGroup(
            configuration: .init(
                services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// One MCP session on standard input and output.
private struct StdioSession: Service {
    let toolbox: MCPToolbox
    let principal: Principal
    let logger: Logger

    func run() async throws {
        let calls = InFlightCalls()
        let server = await toolbox.server(for: principal, logger: logger, calls: calls)
        try await server.start(transport: StdioTransport(logger: logger))
        await withGracefulShutdownHandler {
            await server.waitUntilCompleted()
        } onGracefulShutdown: {
            Task { await server.stop() }
        }
        // Input ended: calls still being answered write their answers before the transport closes.
        await calls.waitUntilIdle(atMost: .seconds(30))
        await server.stop()
    }
}

/// The tool calls being answered.
final class InFlightCalls: Sendable {
    private let count = Mutex(0)

    func enter() { count.withLock { $0 += 1 } }
    func leave() { count.withLock { $0 -= 1 } }

    /// Returns when no call is in flight, or after `limit`.
    func waitUntilIdle(atMost limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while count.withLock({ $0 }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
