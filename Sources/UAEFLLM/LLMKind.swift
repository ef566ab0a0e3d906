import Foundation
import Logging
import Synchronization
import UAEFCore
import UAEFEngine
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
    let now: @Sendable () -> Date

    /// The kind on `store`, reaching models under `policy` (a base URL on this machine or a
    /// private network needs the operator's `--allow-network`); `capabilities` executes the
    /// agents that capability tools name (nil: no capability tools).
    public init(
        store: any WorkflowStore, policy: OutboundPolicy, capabilities: CapabilityInvoker?,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.policy = policy
        self.capabilities = capabilities
        clients = ModelClients(policy: policy)
        self.now = now
    }

    public var name: String { "llm" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: LLMSettings.required, optional: LLMSettings.optional)
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let settings = try LLMSettings(request.parameters)
        var tools: [String: any LLMTool] = [:]
        for spec in settings.tools {
            switch spec {
            case .builtIn(let name):
                tools[name] = BuiltInTools.tool(name, store: store)
            case .capability(let capability, let name, let description, let schema):
                guard let capabilities else {
                    throw AgentFailure("llm: capability tools are not available in this process", retryable: false)
                }
                tools[name] = CapabilityTool(
                    capability: capability,
                    definition: ToolDefinition(name: name, description: description, inputSchema: schema),
                    invoker: capabilities)
            }
        }
        let client = try await clients.client(for: settings.endpoint)
        var conversation = try await LLMConversation(
            store: store, request: request, settings: settings, tools: tools, client: client, now: now,
            logger: logger)
        return try await conversation.run()
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
