/// What a workflow may refer to: the agent kinds this binary has and the capabilities of registered agents.
public struct WorkflowCatalog: Sendable {
    /// Built-in agent kinds by name, with the parameters each accepts.
    public var agentKinds: [String: ParameterSpec]
    /// Capabilities that registered agents offer; nil skips the check (e.g. when re-reading a stored run).
    public var capabilities: Set<String>?
    /// Kinds that exist but that tasks may not name, with the reason (e.g. `command` on a server).
    public var refusedKinds: [String: String] = [:]
    /// Top-level sections that other modules own and check (settlement's `settlements:`); nil
    /// accepts any (when re-reading a stored run, which was checked when it started).
    public var sections: Set<String>? = []

    public init(agentKinds: [String: ParameterSpec], capabilities: Set<String>?) {
        self.agentKinds = agentKinds
        self.capabilities = capabilities
    }

    /// The parameters (`with` keys) an agent kind takes.
    public struct ParameterSpec: Sendable, Hashable {
        /// Keys that must be present.
        public var required: Set<String>
        /// Keys that may be present, required ones included.
        public var allowed: Set<String>
        /// True when any key is accepted (e.g. `echo`, whose output is its parameters).
        public var allowsAnyKey: Bool

        public init(required: Set<String> = [], optional: Set<String> = [], allowsAnyKey: Bool = false) {
            self.required = required
            self.allowed = required.union(optional)
            self.allowsAnyKey = allowsAnyKey
        }
    }
}
