import Foundation
import Logging
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
    /// One keep-alive client per endpoint.
    let clients: KeptClients<ModelEndpoint, ModelClient>
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
        clients = KeptClients { await $0.shutdown() }
        self.now = now
    }

    /// Connections kept per endpoint, opened as calls need them: as many as calls in flight.
    static let connections = 256

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
        return try await clients.using(settings.endpoint) { [policy] in
            try await ModelClient(endpoint: settings.endpoint, policy: policy, connections: Self.connections)
        } _: { client in
            try await converse(
                request, settings: settings, tools: tools, servers: servers, client: client, logger: logger)
        }
    }

    /// The conversation of `request` with `client`, with the sessions of `servers` open.
    private func converse(
        _ request: AttemptRequest, settings: LLMSettings, tools: [any LLMTool], servers: [MCPServerSpec],
        client: ModelClient, logger: Logger
    ) async throws -> JSONValue {
        var tools = tools
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
