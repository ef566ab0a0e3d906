/// Reads and validates workflow files (YAML or JSON) completely before anything is written.
public enum WorkflowParser {
    /// Parses `text`, read from `file`, checking it against `catalog`.
    ///
    /// Every problem is collected and reported together in a ``ValidationFailure``.
    public static func parse(_ text: String, file: String, catalog: WorkflowCatalog) throws(ValidationFailure)
        -> WorkflowDefinition
    {
        switch YAMLSource.parse(text, file: file) {
        case .success(let root): return try parse(root, source: text, file: file, catalog: catalog)
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
    }

    /// Validates an already parsed document whose text is `text`, for callers that read other
    /// sections of it too (the catalog's `sections`, such as settlement's `settlements:`).
    public static func parse(_ root: YAMLSource, source text: String, file: String, catalog: WorkflowCatalog)
        throws(ValidationFailure) -> WorkflowDefinition
    {
        var reader = DocumentReader(file: file, catalog: catalog)
        let definition = reader.read(root, source: text)
        guard reader.issues.isEmpty, let definition else {
            throw ValidationFailure(issues: reader.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return definition
    }

    /// Whether `name` may name a workflow (``namePattern`` says how, in words).
    public static func isValidName(_ name: String) -> Bool { DocumentReader.isValidWorkflowName(name) }

    /// What a workflow name may be, for messages.
    public static let namePattern = DocumentReader.workflowNamePattern
}

/// The state of one validation pass over a workflow document: the file and the issues found so far.
struct DocumentReader: DefinitionReading {
    static let taskIDPattern = "[a-z0-9_-]+"
    static let workflowKeys: Set<String> = [
        "name", "version", "description", "inputs", "timeout", "concurrency", "tasks",
    ]
    static let taskKeys: Set<String> = [
        "id", "agent", "capability", "with", "depends_on", "when", "for_each", "trigger", "retry", "timeout",
    ]
    static let retryKeys: Set<String> = ["max_attempts", "backoff", "max_backoff", "multiplier", "jitter"]

    let file: String
    let catalog: WorkflowCatalog
    var issues: [ValidationIssue] = []

    init(file: String, catalog: WorkflowCatalog) {
        self.file = file
        self.catalog = catalog
    }

    mutating func read(_ root: YAMLSource, source: String) -> WorkflowDefinition? {
        let sections = catalog.sections ?? Set(root.entries?.map(\.key) ?? [])
        guard let fields = mapping(root, field: "", allowed: Self.workflowKeys.union(sections)) else { return nil }
        let name = string(fields["name"], field: "name")
        if fields["name"] == nil { report("name", root.line, "required: the workflow's name") }
        if let name, !Self.isValidWorkflowName(name) {
            report(
                "name", fields["name"]?.line,
                "\"\(name.prefix(80))\" is not a workflow name; use \(Self.workflowNamePattern)")
        }
        let version = integer(fields["version"], field: "version", range: 1...Int(Int32.max)) ?? 1
        let description = string(fields["description"], field: "description")
        var inputs: [String: JSONValue] = [:]
        if let inputSource = fields["inputs"] {
            if case .object(let members)? = json(inputSource, field: "inputs") {
                inputs = members
            } else if inputSource.entries == nil {
                report("inputs", inputSource.line, "expected a mapping of input names to default values")
            }
        }
        let timeout = duration(fields["timeout"], field: "timeout")
        let concurrency = integer(fields["concurrency"], field: "concurrency", range: 1...10_000)
        var tasks: [TaskDefinition] = []
        var positions: [WorkflowGraphCheck.Position] = []
        var declared: [(id: String, position: WorkflowGraphCheck.Position)] = []
        if let taskSource = fields["tasks"] {
            if let elements = taskSource.elements, !elements.isEmpty {
                for (index, element) in elements.enumerated() {
                    let position = WorkflowGraphCheck.Position(index: index, line: element.line)
                    if let id = element.entries?.first(where: { $0.key == "id" })?.value.string {
                        declared.append((id, position))
                    }
                    if let task = readTask(element, field: "tasks[\(index)]") {
                        tasks.append(task)
                        positions.append(position)
                    }
                }
            } else {
                report("tasks", taskSource.line, "expected a non-empty list of tasks")
            }
        } else {
            report("tasks", root.line, "required: a list of tasks")
        }
        guard let name else { return nil }
        let definition = WorkflowDefinition(
            name: name, version: version, description: description, inputs: inputs, timeout: timeout,
            concurrency: concurrency, tasks: tasks, source: source)
        var graph = WorkflowGraphCheck(definition: definition, positions: positions, declared: declared)
        graph.check()
        issues += graph.issues.map { ValidationIssue(file: file, line: $0.line, field: $0.field, message: $0.message) }
        return definition
    }

    mutating func readTask(_ source: YAMLSource, field: String) -> TaskDefinition? {
        guard let fields = mapping(source, field: field, allowed: Self.taskKeys) else { return nil }
        let issueCount = issues.count
        let id = string(fields["id"], field: "\(field).id")
        if fields["id"] == nil {
            report("\(field).id", source.line, "required: a task id matching \(Self.taskIDPattern)")
        }
        if let id, !Self.isValidTaskID(id) {
            report("\(field).id", fields["id"]?.line, "\"\(id)\" is not a valid task id; use \(Self.taskIDPattern)")
        }
        let executor = readExecutor(fields, field: field, line: source.line)
        let parameters = template(fields["with"], field: "\(field).with") ?? .value(.object([:]))
        if let withSource = fields["with"], withSource.entries == nil {
            report(
                "\(field).with", withSource.line, "expected a mapping of parameters, found \(Self.kind(of: withSource))"
            )
        }
        if case .agentKind(let kind)? = executor, let spec = catalog.agentKinds[kind],
            let keys = Self.keys(of: parameters)
        {
            checkParameters(keys, spec: spec, kind: kind, field: field, line: fields["with"]?.line ?? source.line)
        }
        var dependsOn: [String] = []
        if let dependencySource = fields["depends_on"] {
            if let elements = dependencySource.elements {
                for (index, element) in elements.enumerated() {
                    if let dependency = string(element, field: "\(field).depends_on[\(index)]") {
                        dependsOn.append(dependency)
                    }
                }
            } else {
                report("\(field).depends_on", dependencySource.line, "expected a list of task ids")
            }
        }
        let condition = template(fields["when"], field: "\(field).when")
        let forEach = template(fields["for_each"], field: "\(field).for_each")
        if case .value(let value)? = forEach, value.arrayValue == nil {
            report(
                "\(field).for_each", fields["for_each"]?.line,
                "expected a list or a ${{ }} template giving a list, found a \(value.typeName)")
        }
        var trigger = TriggerRule.noneFailed
        if let triggerText = string(fields["trigger"], field: "\(field).trigger") {
            if let rule = TriggerRule(rawValue: triggerText) {
                trigger = rule
            } else {
                let valid = TriggerRule.allCases.map(\.rawValue).joined(separator: ", ")
                report(
                    "\(field).trigger", fields["trigger"]?.line, "unknown trigger \"\(triggerText)\"; valid: \(valid)")
            }
        }
        let retry = fields["retry"].map { readRetry($0, field: "\(field).retry") } ?? .default
        let timeout = duration(fields["timeout"], field: "\(field).timeout")
        guard issues.count == issueCount, let id, let executor else { return nil }
        return TaskDefinition(
            id: id, executor: executor, parameters: parameters, dependsOn: dependsOn, condition: condition,
            forEach: forEach, trigger: trigger, retry: retry, timeout: timeout)
    }

    /// What a workflow's name may be (it appears in URLs, CLI tables and log lines).
    static let workflowNamePattern = "1 to 128 letters, digits, '_', '.' or '-'"

    static func isValidWorkflowName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F
                    || $0 == 0x2D || $0 == 0x2E
            }
    }

    static func isValidTaskID(_ id: String) -> Bool {
        !id.isEmpty
            && id.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D
            }
    }

    /// The parameter names of a `with` mapping, templated or not.
    private static func keys(of template: ValueTemplate) -> Set<String>? {
        switch template {
        case .value(.object(let members)): Set(members.keys)
        case .object(let members): Set(members.keys)
        default: nil
        }
    }

    private mutating func checkParameters(
        _ keys: Set<String>, spec: WorkflowCatalog.ParameterSpec, kind: String, field: String, line: Int?
    ) {
        for missing in spec.required.subtracting(keys).sorted() {
            report("\(field).with.\(missing)", line, "required by agent kind '\(kind)'")
        }
        for unknown in keys.subtracting(spec.allowed).sorted() where !spec.allowsAnyKey {
            let valid = spec.allowed.sorted().joined(separator: ", ")
            report(
                "\(field).with.\(unknown)", line,
                "agent kind '\(kind)' has no parameter '\(unknown)'; valid: \(valid.isEmpty ? "none" : valid)")
        }
    }

    private mutating func readExecutor(_ fields: [String: YAMLSource], field: String, line: Int?) -> TaskDefinition
        .Executor?
    {
        let kind = string(fields["agent"], field: "\(field).agent")
        let capability = string(fields["capability"], field: "\(field).capability")
        switch (kind, capability) {
        case (let kind?, nil):
            if let refusal = catalog.refusedKinds[kind] {
                report("\(field).agent", fields["agent"]?.line, refusal)
                return nil
            }
            guard catalog.agentKinds[kind] != nil else {
                let valid = catalog.agentKinds.keys.sorted().joined(separator: ", ")
                report(
                    "\(field).agent", fields["agent"]?.line, "unknown agent kind \"\(kind)\"; built-in kinds: \(valid)")
                return nil
            }
            return .agentKind(kind)
        case (nil, let capability?):
            if let known = catalog.capabilities, !known.contains(capability) {
                let valid =
                    known.isEmpty
                    ? "no agents are registered yet (uaef agents register)"
                    : "registered: " + known.sorted().joined(separator: ", ")
                report(
                    "\(field).capability", fields["capability"]?.line,
                    "no registered agent has capability \"\(capability)\"; \(valid)")
                return nil
            }
            return .capability(capability)
        case (.some, .some):
            report(field, line, "has both agent and capability; give exactly one")
            return nil
        case (nil, nil):
            if fields["agent"] == nil, fields["capability"] == nil {
                report(
                    field, line, "needs either agent (a built-in kind) or capability (assigned to a registered agent)")
            }
            return nil
        }
    }

    private mutating func readRetry(_ source: YAMLSource, field: String) -> RetryPolicy {
        var policy = RetryPolicy.default
        guard let fields = mapping(source, field: field, allowed: Self.retryKeys) else { return policy }
        policy.maxAttempts =
            integer(fields["max_attempts"], field: "\(field).max_attempts", range: 1...1000) ?? policy.maxAttempts
        policy.backoff = duration(fields["backoff"], field: "\(field).backoff") ?? policy.backoff
        policy.maxBackoff =
            duration(fields["max_backoff"], field: "\(field).max_backoff") ?? max(policy.maxBackoff, policy.backoff)
        if let multiplierSource = fields["multiplier"] {
            if case .success(.number(let multiplier)) = multiplierSource.jsonValue(), multiplier >= Number(1),
                multiplier <= Number(10)
            {
                policy.multiplier = multiplier
            } else {
                report(
                    "\(field).multiplier", multiplierSource.line,
                    "expected a number from 1 to 10, found \(Self.describe(multiplierSource))")
            }
        }
        if let jitterSource = fields["jitter"] {
            if case .success(.bool(let jitter)) = jitterSource.jsonValue() {
                policy.jitter = jitter
            } else {
                report(
                    "\(field).jitter", jitterSource.line, "expected true or false, found \(Self.describe(jitterSource))"
                )
            }
        }
        if policy.maxBackoff < policy.backoff {
            report(
                "\(field).max_backoff", fields["max_backoff"]?.line,
                "must not be shorter than backoff (\(DurationText.format(policy.backoff)))")
        }
        return policy
    }
}
