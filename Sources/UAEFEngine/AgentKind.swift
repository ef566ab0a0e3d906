import Logging
import UAEFCore

/// A way of doing a task's work: built-in kinds (noop, echo, sleep, command, http) and, later,
/// LLM, MCP and remote agents all implement this and join an ``AgentKindRegistry``.
public protocol AgentKind: Sendable {
    /// The name workflows use in `agent:` and agents use as their `kind`.
    var name: String { get }
    /// The parameters (`with` keys, merged over an agent's configuration) it takes.
    var parameters: WorkflowCatalog.ParameterSpec { get }
    /// True for kinds with no side effects that finish at once (noop, echo). The runner executes
    /// them inline and commits their start and completion together; rerunning one is harmless.
    var isPure: Bool { get }
    /// True for kinds whose attempts only wait on the store (approvals, remote agents): they run
    /// in the process orchestrating the run, whatever capabilities that process serves.
    var waitsOnStore: Bool { get }
    /// False for kinds whose attempts take none of the process's execution slots
    /// (`--max-concurrency`): pure kinds, which the runner executes inline, and `workflow`, whose
    /// attempt only waits while its child run's attempts take slots of their own. A waiting parent
    /// holding a slot could otherwise keep its child from ever starting.
    var takesExecutionSlot: Bool { get }
    /// True for kinds that act on the host the server runs on as the server's user (`command`
    /// spawns processes). A server offers them only when its administrator enables them, and
    /// then only through agents an administrator registered (``AgentKindRegistry/restrictingHostKinds()``).
    var actsOnHost: Bool { get }
    /// True when an agent of this kind with `configuration` acts on the host (``actsOnHost`` for
    /// every configuration by default; an `llm` agent whose MCP servers include a program).
    func actsOnHost(configuration: [String: JSONValue]) -> Bool
    /// Executes one attempt. Throw ``AgentFailure`` to fail it with a message; cancellation of the
    /// surrounding task (timeout or run cancelled) must stop the work promptly.
    func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue
}

extension AgentKind {
    public var isPure: Bool { false }
    public var waitsOnStore: Bool { false }
    public var takesExecutionSlot: Bool { !isPure }
    public var actsOnHost: Bool { false }
    public func actsOnHost(configuration: [String: JSONValue]) -> Bool { actsOnHost }
}

/// An attempt failed for a reason the agent can state.
public struct AgentFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the task's `error`.
    public var message: String
    /// False when retrying cannot help (bad parameters): the task fails at once.
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

/// The agent kinds this process can execute, by name.
public struct AgentKindRegistry: Sendable {
    public private(set) var kinds: [String: any AgentKind] = [:]
    /// Kinds that only agents an administrator registered may use: tasks cannot name them.
    public private(set) var agentOnly: Set<String> = []

    public init(_ kinds: [any AgentKind]) {
        for kind in kinds { self.kinds[kind.name] = kind }
    }

    /// Adds or replaces a kind.
    public mutating func register(_ kind: any AgentKind) { kinds[kind.name] = kind }

    public subscript(name: String) -> (any AgentKind)? { kinds[name] }

    /// The same kinds without those that act on the host: what a server offers by default.
    public func withoutHostKinds() -> AgentKindRegistry {
        var registry = self
        registry.kinds = kinds.filter { !$0.value.actsOnHost }
        return registry
    }

    /// The same kinds, with those that act on the host usable only through agents an
    /// administrator registered: what a server offers when its administrator enables them.
    public func restrictingHostKinds() -> AgentKindRegistry {
        var registry = self
        registry.agentOnly = Set(kinds.filter { $0.value.actsOnHost }.keys)
        return registry
    }

    /// Why a task may not name `kind` directly, or nil when it may.
    public func refusal(toName kind: String) -> String? {
        guard agentOnly.contains(kind) else { return nil }
        return
            "agent kind \(kind) acts on the server's host: on this server only an agent an administrator registered may use it (ask for its capability instead)"
    }

    /// What workflow validation needs to know about the kinds. Nil `capabilities` re-reads a
    /// stored run's workflow, checked when it started: any capability and any section pass.
    public func catalog(capabilities: Set<String>?) -> WorkflowCatalog {
        var catalog = WorkflowCatalog(
            agentKinds: kinds.filter { !agentOnly.contains($0.key) }.mapValues(\.parameters), capabilities: capabilities
        )
        if capabilities == nil { catalog.sections = nil }
        for kind in agentOnly { catalog.refusedKinds[kind] = refusal(toName: kind) }
        return catalog
    }
}

/// Stands in for a kind this process refuses to execute for a request: fails its attempt
/// without retrying, with the reason.
struct RefusedKind: AgentKind {
    let name: String
    let reason: String

    var parameters: WorkflowCatalog.ParameterSpec { .init(allowsAnyKey: true) }

    func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        throw AgentFailure(reason, retryable: false)
    }
}
