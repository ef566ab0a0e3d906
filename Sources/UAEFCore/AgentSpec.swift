/// An agent as an operator describes it, on the command line or in an agents file.
public struct AgentSpec: Sendable, Hashable {
    public var name: String
    public var kind: String
    public var capabilities: [String]
    public var configuration: [String: JSONValue]
    public var maxConcurrency: Int
    /// Activate on registration (default false: agents start `registered`).
    public var activate: Bool

    public init(
        name: String, kind: String, capabilities: [String], configuration: [String: JSONValue] = [:],
        maxConcurrency: Int = 1, activate: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.capabilities = capabilities
        self.configuration = configuration
        self.maxConcurrency = maxConcurrency
        self.activate = activate
    }

    /// The characters a name or capability may use.
    public static let namePattern = "[a-z0-9_.-]+"

    /// True when `text` matches ``namePattern``.
    public static func isValidName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E
            }
    }

    /// Problems with this spec, given the agent kinds that exist.
    public func problems(kinds: Set<String>) -> [String] {
        var problems: [String] = []
        if !Self.isValidName(name) { problems.append("name \"\(name)\" must match \(Self.namePattern)") }
        if !kinds.contains(kind) {
            problems.append("unknown kind \"\(kind)\"; kinds: \(kinds.sorted().joined(separator: ", "))")
        }
        if capabilities.isEmpty { problems.append("needs at least one capability") }
        for capability in capabilities where !Self.isValidName(capability) {
            problems.append("capability \"\(capability)\" must match \(Self.namePattern)")
        }
        if !(1...10_000).contains(maxConcurrency) { problems.append("max_concurrency must be from 1 to 10000") }
        return problems
    }
}

/// Reads an agents file: `agents:` followed by a list of agents.
public enum AgentFileParser {
    static let keys: Set<String> = ["name", "kind", "capabilities", "config", "max_concurrency", "activate"]

    /// Parses `text`, read from `file`, checking kinds against `kinds`; every problem is reported.
    public static func parse(_ text: String, file: String, kinds: Set<String>) throws(ValidationFailure) -> [AgentSpec]
    {
        var reader = DocumentReader(file: file, catalog: WorkflowCatalog(agentKinds: [:], capabilities: nil))
        return try reader.document(text, key: "agents", noun: "agent", name: \.name) { reader, source, field in
            read(source, field: field, kinds: kinds, reader: &reader)
        }
    }

    private static func read(_ source: YAMLSource, field: String, kinds: Set<String>, reader: inout DocumentReader)
        -> AgentSpec?
    {
        guard let fields = reader.mapping(source, field: field, allowed: keys) else { return nil }
        let before = reader.issues.count
        let name = reader.string(fields["name"], field: "\(field).name")
        let kind = reader.string(fields["kind"], field: "\(field).kind")
        var capabilities: [String] = []
        if let list = fields["capabilities"]?.elements {
            for (index, element) in list.enumerated() {
                if let capability = reader.string(element, field: "\(field).capabilities[\(index)]") {
                    capabilities.append(capability)
                }
            }
        }
        var configuration: [String: JSONValue] = [:]
        if let config = fields["config"] {
            if case .object(let members)? = reader.json(config, field: "\(field).config") {
                configuration = members
            } else {
                reader.report("\(field).config", config.line, "expected a mapping of parameters")
            }
        }
        let maxConcurrency =
            reader.integer(fields["max_concurrency"], field: "\(field).max_concurrency", range: 1...10_000) ?? 1
        var activate = false
        if let activation = fields["activate"] {
            if case .success(.bool(let flag)) = activation.jsonValue() {
                activate = flag
            } else {
                reader.report("\(field).activate", activation.line, "expected true or false")
            }
        }
        guard reader.issues.count == before, let name, let kind else {
            if fields["name"] == nil { reader.report("\(field).name", source.line, "required") }
            if fields["kind"] == nil {
                reader.report(
                    "\(field).kind", source.line, "required: one of \(kinds.sorted().joined(separator: ", "))")
            }
            return nil
        }
        let spec = AgentSpec(
            name: name, kind: kind, capabilities: capabilities, configuration: configuration,
            maxConcurrency: maxConcurrency, activate: activate)
        for problem in spec.problems(kinds: kinds) { reader.report(field, source.line, problem) }
        return spec
    }
}
