import Foundation
import Logging
import Synchronization
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFMCP
import UAEFStore

/// The agent kind `llm`: a conversation with a model (Anthropic Messages or an OpenAI-compatible
/// chat API) that may call tools, until the model gives its final answer.
///
/// Each model call and each tool call is a conversation step recorded with a ledger event in
/// one transaction before the next step starts: `llm.call` (tokens, cost, latency; the request
/// and answer as payloads) and `llm.tool` (the tool's input and result as payloads). A retried
/// or resumed attempt replays the recorded steps instead of paying for them again and goes on
/// from the first step not recorded. An answer that must match `output_schema` and does not is
/// sent back with the violations, up to `repair_attempts` times. Budgets (tokens and cost per
/// task, run and agent per day) are checked before each call: a call that could pass one (the
/// tokens used so far, plus the request's size in bytes divided by four, plus `max_tokens`) is
/// not made and the attempt fails without retrying.
public struct LLMKind: AgentKind {
    let store: any WorkflowStore
    let policy: OutboundPolicy
    let capabilities: CapabilityInvoker?
    let clients: ModelClients
    /// What MCP server programs inherit from this process's environment; nil when this process
    /// starts none.
    let programs: HostProgram.EnvironmentPolicy?
    let now: @Sendable () -> Date

    /// The kind on `store`, reaching models and MCP servers' URLs under `policy` (a base URL on
    /// this machine or a private network needs the operator's `--allow-network`); `capabilities`
    /// executes the agents that capability tools name (nil: no capability tools); `programs`
    /// lets agents start MCP servers as programs on this host (nil: none may).
    public init(
        store: any WorkflowStore, policy: OutboundPolicy, capabilities: CapabilityInvoker?,
        programs: HostProgram.EnvironmentPolicy? = nil, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.policy = policy
        self.capabilities = capabilities
        self.programs = programs
        clients = ModelClients(policy: policy)
        self.now = now
    }

    public var name: String { "llm" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: LLMSettings.required, optional: LLMSettings.optional)
    }

    /// An agent whose MCP servers include a program acts on the host: only an administrator may
    /// register one.
    public func actsOnHost(configuration: [String: JSONValue]) -> Bool {
        MCPServerSpec.startsPrograms(configuration["mcp_servers"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let settings = try LLMSettings(request.parameters)
        var tools: [any LLMTool] = []
        for spec in settings.tools {
            switch spec {
            case .builtIn(let name):
                if let tool = BuiltInTools.tool(name, store: store) { tools.append(tool) }
            case .capability(let capability, let name, let description, let schema):
                guard let capabilities else {
                    throw AgentFailure("llm: capability tools are not available in this process", retryable: false)
                }
                tools.append(
                    CapabilityTool(
                        capability: capability,
                        definition: ToolDefinition(name: name, description: description, inputSchema: schema),
                        invoker: capabilities))
            }
        }
        let servers = try Self.mcpServers(of: request)
        let client = try await clients.client(for: settings.endpoint)
        return try await withSessions(servers[...], logger: logger) { sessions in
            for session in sessions {
                for tool in session.tools { tools.append(try MCPServerTool(session: session, tool: tool)) }
            }
            var names: Set<String> = []
            for tool in tools where !names.insert(tool.definition.name).inserted {
                throw AgentFailure(
                    "llm: two tools are named \(tool.definition.name); rename one (a capability's name, or an MCP server's)",
                    retryable: false)
            }
            var conversation = try await LLMConversation(
                store: store, request: request, settings: settings, tools: tools, client: client, now: now,
                logger: logger)
            return try await conversation.run()
        }
    }

    /// The MCP servers of the attempt's agent. Only the agent's configuration may name them: a
    /// task's `with` that sets `mcp_servers` to anything else (another program, URL, variable,
    /// header, tool list or timeout) fails the attempt before anything starts.
    static func mcpServers(of request: AttemptRequest) throws(AgentFailure) -> [MCPServerSpec] {
        let configured = request.agent?.configuration["mcp_servers"]
        guard request.parameters["mcp_servers"] == configured else {
            throw AgentFailure(
                "llm: mcp_servers is a setting of the agent (its configuration), which a task's with cannot change",
                retryable: false)
        }
        do {
            return try MCPServerSpec.parse(configured)
        } catch {
            throw AgentFailure("llm: \(error)", retryable: false)
        }
    }

    /// Runs `body` with a session open to each of `servers`, closing them all after.
    private func withSessions<Result: Sendable>(
        _ servers: ArraySlice<MCPServerSpec>, opened: [MCPToolSession] = [], logger: Logger,
        body: ([MCPToolSession]) async throws -> Result
    ) async throws -> Result {
        guard let server = servers.first else { return try await body(opened) }
        do {
            return try await MCPToolSession.with(server, policy: policy, programs: programs, logger: logger) {
                session in
                try await withSessions(servers.dropFirst(), opened: opened + [session], logger: logger, body: body)
            }
        } catch let failure as MCPToolSession.Failure {
            throw AgentFailure("llm: \(failure)")
        }
    }
}

/// One keep-alive client per endpoint, kept for the process's life (a few endpoints at most; the
/// least recently used beyond ``limit`` is shut down).
final class ModelClients: Sendable {
    let policy: OutboundPolicy
    private let cache = Mutex<[ModelEndpoint: (client: ModelClient, used: UInt64)]>([:])
    private let clock = Atomic<UInt64>(0)
    static let limit = 32
    /// Connections kept per endpoint, opened as calls need them: as many as calls in flight.
    static let connections = 256

    init(policy: OutboundPolicy) { self.policy = policy }

    deinit {
        // A client must be shut down before it goes: the task keeps each alive until it is.
        let clients = cache.withLock { $0.values.map(\.client) }
        Task { for client in clients { await client.shutdown() } }
    }

    func client(for endpoint: ModelEndpoint) async throws -> ModelClient {
        let tick = clock.add(1, ordering: .relaxed).newValue
        if let found = cache.withLock({ cache -> ModelClient? in
            cache[endpoint]?.used = tick
            return cache[endpoint]?.client
        }) {
            return found
        }
        let client = try await ModelClient(endpoint: endpoint, policy: policy, connections: Self.connections)
        let (kept, evicted) = cache.withLock { cache -> (ModelClient, ModelClient?) in
            if let raced = cache[endpoint] { return (raced.client, client) }
            cache[endpoint] = (client, tick)
            guard cache.count > Self.limit, let oldest = cache.min(by: { $0.value.used < $1.value.used }) else {
                return (client, nil)
            }
            cache[oldest.key] = nil
            return (client, oldest.value.client)
        }
        if let evicted { await evicted.shutdown() }
        return kept
    }
}
