import AsyncHTTPClient
import Foundation
import Logging
import MCP
import NIOCore
import UAEFAgents
import UAEFCore
import UAEFEngine

/// A connection to one MCP server for the length of an attempt, through the official Swift SDK's
/// client: initialized, its tools listed (those the spec allows), and calls made with the spec's
/// timeout.
public struct MCPToolSession: Sendable {
    public let server: MCPServerSpec
    /// The tools the server listed that the spec allows.
    public let tools: [Tool]
    private let client: Client

    /// The most tools taken from one server.
    static let toolLimit = 64
    /// How long connecting and listing the tools may take.
    static let setupTimeout = Duration.seconds(30)

    /// A server that did not answer as MCP asks, or in time.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Connects to `server` (a program only when `programs` gives the environment it may have;
    /// a URL only where `policy` allows), lists its tools and runs `body` with the session, then
    /// disconnects (a program's input is closed and it is ended soon after).
    public static func with<Result: Sendable>(
        _ server: MCPServerSpec, policy: OutboundPolicy, programs: HostProgram.EnvironmentPolicy?, logger: Logger,
        body: (MCPToolSession) async throws -> Result
    ) async throws -> Result {
        switch server.endpoint {
        case .http(let url, let headers):
            for (name, value) in headers { try OutboundHTTP.checkHeader(name, value, by: "mcp server \(server.name)") }
            let http = try await OutboundHTTP(policy: policy).client(
                for: url, method: "POST", by: "mcp server \(server.name)", connections: 4)
            let transport = MCPHTTPTransport(
                url: url, headers: headers, client: http, timeout: .seconds(server.timeout.components.seconds + 1),
                logger: logger)
            do {
                let result = try await session(server, transport: transport, body: body)
                try? await http.shutdown()
                return result
            } catch {
                try? await http.shutdown()
                throw error
            }
        case .program(let command, let environment):
            guard let programs else {
                throw AgentFailure(
                    "mcp server \(server.name) is a program, and this process starts none (uaef serve and uaef worker start them only with --allow-command, for agents an administrator registered)",
                    retryable: false)
            }
            guard let executable = HostProgram.resolve(command[0]) else {
                throw AgentFailure(
                    "mcp server \(server.name): program \"\(command[0])\" was not found on PATH", retryable: false)
            }
            return try await HostProgram.interact(
                executable, arguments: Array(command.dropFirst()),
                environment: HostProgram.environment(programs, adding: environment)
            ) { writer, output in
                try await session(
                    server, transport: MCPProgramTransport(writer: writer, output: output, logger: logger), body: body)
            }
        }
    }

    private static func session<Result: Sendable>(
        _ server: MCPServerSpec, transport: some Transport, body: (MCPToolSession) async throws -> Result
    ) async throws -> Result {
        let client = Client(name: "uaef", version: "0.1.0")
        // A program that exits fails what waits for its answers at once, not at their timeout.
        if let program = transport as? MCPProgramTransport {
            await program.whenClosed { await client.disconnect() }
        }
        do {
            let tools: [Tool]
            do {
                // Abandoning the setup disconnects, which fails the requests still waiting.
                tools = try await within(
                    setupTimeout, "mcp server \(server.name) did not initialize and list its tools",
                    abandon: { await client.disconnect() },
                    operation: {
                        _ = try await client.connect(transport: transport)
                        return try await listTools(client, server: server)
                    })
            } catch let error where !(error is Failure || error is CancellationError) {
                // A program that exited fails the waiting request with the client's own "Client
                // disconnected" or with ``MCPProgramTransport/Closed``, whichever comes first:
                // the exit is the cause either way.
                var cause: any Error = error
                if let program = transport as? MCPProgramTransport, await program.hasClosedOutput {
                    cause = MCPProgramTransport.Closed()
                }
                throw Failure(description: "mcp server \(server.name) did not initialize and list its tools: \(cause)")
            }
            let result = try await body(MCPToolSession(server: server, tools: tools, client: client))
            await client.disconnect()
            return result
        } catch {
            await client.disconnect()
            throw error
        }
    }

    private static func listTools(_ client: Client, server: MCPServerSpec) async throws -> [Tool] {
        var tools: [Tool] = []
        var cursor: String?
        repeat {
            let page = try await client.listTools(cursor: cursor)
            tools += page.tools.filter { server.tools?.contains($0.name) ?? true }
            guard tools.count <= toolLimit else {
                throw Failure(
                    description:
                        "mcp server \(server.name) offers more than \(toolLimit) tools; name the ones to use in its tools setting"
                )
            }
            cursor = page.nextCursor
        } while cursor != nil
        if let wanted = server.tools, case let missing = wanted.subtracting(tools.map(\.name)), !missing.isEmpty {
            throw Failure(
                description:
                    "mcp server \(server.name) has no tool \(missing.sorted().joined(separator: ", ")); it lists: \(tools.map(\.name).sorted().joined(separator: ", "))"
            )
        }
        return tools
    }

    /// Calls `tool` with `arguments`; the server's result, error results included. A call that
    /// does not answer within the server's timeout (or whose attempt is cancelled) is cancelled
    /// with the server, as the protocol's `notifications/cancelled`.
    public func call(_ tool: String, arguments: [String: JSONValue]) async throws -> CallTool.Result {
        let arguments = arguments.mapValues(MCPValues.value)
        let context = try await client.send(CallTool.request(.init(name: tool, arguments: arguments)))
        let client = self.client
        return try await Self.within(
            server.timeout, "mcp server \(server.name) did not answer \(tool) in time",
            abandon: { try? await client.cancelRequest(context.requestID, reason: "timed out or cancelled") },
            operation: { try await context.value })
    }

    /// `operation`'s result, or a failure saying `what` when `limit` passes first. The SDK's
    /// waits do not end on cancellation, so on a timeout or a cancellation `abandon` runs, which
    /// must make `operation` end (by failing what it waits for).
    static func within<Value: Sendable>(
        _ limit: Duration, _ what: String, abandon: @escaping @Sendable () async -> Void,
        operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            do {
                guard let first = try await group.next(), let value = first else {
                    await abandon()
                    group.cancelAll()
                    throw Failure(description: "\(what) (\(limit.components.seconds) s)")
                }
                group.cancelAll()
                return value
            } catch let failure as Failure {
                throw failure
            } catch {
                await abandon()
                group.cancelAll()
                throw error
            }
        }
    }
}
