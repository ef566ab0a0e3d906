import UAEFCore
import UAEFLedger

/// Reads and checks a workflow template file (YAML or JSON) completely, reporting every problem
/// as `file:line: field: message`:
///
/// ```yaml
/// template: invoice-approval        # the template's name
/// version: 1
/// title: Invoice approval
/// description: What the process does and which agents and roles it needs.
/// category: finance
/// parameters:                       # each a JSON Schema with a description and maybe a default
///   approval_threshold: {type: number, minimum: 0, default: 1000, description: …}
/// workflow:                         # a workflow definition without `name`; ${{ params.NAME }} anywhere
///   tasks: …
/// ```
///
/// The instance's workflow is checked (agents, capabilities, sections) by whoever registers it.
public struct TemplateReader: DefinitionReading {
    /// The longest template file read.
    public static let maximumSourceBytes = 1 << 20
    /// The most parameters a template declares.
    public static let maximumParameters = 100

    static let templateKeys: Set<String> = [
        "template", "version", "title", "description", "category", "parameters", "workflow",
    ]
    /// A parameter's keys: its description and default, and the JSON Schema keywords ``JSONSchema`` checks.
    static let parameterKeys: Set<String> = [
        "description", "default", "title", "examples", "type", "enum", "const", "minimum", "maximum",
        "minLength", "maxLength", "pattern", "items", "minItems", "maxItems", "properties", "required",
        "additionalProperties",
    ]
    static let jsonTypes: Set<String> = ["string", "number", "integer", "boolean", "array", "object", "null"]
    static let namePattern = "[a-z0-9][a-z0-9-]* (at most 64 characters)"
    static let parameterNamePattern = "[a-z_][a-z0-9_]* (at most 64 characters)"

    public let file: String
    public var issues: [ValidationIssue] = []

    public init(file: String) { self.file = file }

    /// Reads `text` as a template, or throws every problem found.
    public static func read(_ text: String, file: String) throws(ValidationFailure) -> WorkflowTemplate {
        var reader = TemplateReader(file: file)
        guard text.utf8.count <= maximumSourceBytes else {
            reader.report("", nil, "the template is longer than \(maximumSourceBytes) bytes")
            throw ValidationFailure(issues: reader.issues)
        }
        let root: YAMLSource
        switch YAMLSource.parse(text, file: file) {
        case .success(let source): root = source
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        let template = reader.read(root, source: text)
        guard reader.issues.isEmpty, let template else {
            throw ValidationFailure(issues: reader.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return template
    }

    mutating func read(_ root: YAMLSource, source: String) -> WorkflowTemplate? {
        guard let fields = mapping(root, field: "", allowed: Self.templateKeys) else { return nil }
        let name = required(string(fields["template"], field: "template"), "template", root, "the template's name")
        if let name,
            !Self.isName(name, first: \.isLowercaseLetterOrDigit, rest: { $0.isLowercaseLetterOrDigit || $0 == "-" })
        {
            report(
                "template", fields["template"]?.line,
                "\"\(name.prefix(80))\" is not a template name; use \(Self.namePattern)")
        }
        let version = integer(fields["version"], field: "version", range: 1...Int(Int32.max)) ?? 1
        let title = required(string(fields["title"], field: "title"), "title", root, "a short title for lists")
        let description = required(
            string(fields["description"], field: "description"), "description", root,
            "what the process does and which agents and roles it needs")
        let category = string(fields["category"], field: "category")
        if let category,
            !Self.isName(
                category, first: \.isLowercaseLetterOrDigit, rest: { $0.isLowercaseLetterOrDigit || $0 == "-" })
        {
            report(
                "category", fields["category"]?.line,
                "\"\(category.prefix(80))\" is not a category; use \(Self.namePattern)")
        }
        var declared: [(name: String, line: Int?)] = []
        let parameters = fields["parameters"].map { readParameters($0, declared: &declared) } ?? []
        // Lines as libyaml counts them (its marks are what the nodes carry).
        let lines = source.split(omittingEmptySubsequences: false) { "\n\r\r\n\u{85}\u{2028}\u{2029}".contains($0) }
        let workflow = fields["workflow"].flatMap { readWorkflow($0, lines: lines, declared: declared) }
        if fields["workflow"] == nil {
            report("workflow", root.line, "required: the workflow definition, without its name")
        }
        guard let name, let title, let description, let workflow else { return nil }
        return WorkflowTemplate(
            name: name, version: version, title: title, description: description, category: category,
            parameters: parameters, workflow: workflow, origin: file, source: source,
            sha256: ContentDigest.sha256(Array(source.utf8)))
    }

    private mutating func required<Value>(_ value: Value?, _ field: String, _ root: YAMLSource, _ what: String)
        -> Value?
    {
        if value == nil, root.entries?.contains(where: { $0.key == field }) != true {
            report(field, root.line, "required: \(what)")
        }
        return value
    }

    /// The parameters that read well; `declared` gets every well-named one, so the workflow's
    /// references are checked against what the author meant even when a schema has a problem.
    private mutating func readParameters(_ source: YAMLSource, declared: inout [(name: String, line: Int?)])
        -> [TemplateParameter]
    {
        guard let entries = source.entries else {
            report(
                "parameters", source.line,
                "expected a mapping of parameter names to their schemas, found \(Self.kind(of: source))")
            return []
        }
        guard entries.count <= Self.maximumParameters else {
            report("parameters", source.line, "\(entries.count) parameters; at most \(Self.maximumParameters)")
            return []
        }
        var parameters: [TemplateParameter] = []
        for entry in entries {
            let field = "parameters.\(entry.key)"
            guard
                Self.isName(
                    entry.key, first: { $0.isLowercaseLetter || $0 == "_" },
                    rest: { $0.isLowercaseLetterOrDigit || $0 == "_" })
            else {
                report(
                    field, entry.keyLine,
                    "\"\(entry.key.prefix(80))\" is not a parameter name; use \(Self.parameterNamePattern)")
                continue
            }
            if declared.contains(where: { $0.name == entry.key }) {
                report(field, entry.keyLine, "duplicate parameter '\(entry.key)'")
                continue
            }
            declared.append((entry.key, entry.keyLine))
            if let parameter = readParameter(entry.key, entry.value, field: field) { parameters.append(parameter) }
        }
        return parameters
    }

    private mutating func readParameter(_ name: String, _ source: YAMLSource, field: String) -> TemplateParameter? {
        guard let fields = mapping(source, field: field, allowed: Self.parameterKeys) else { return nil }
        let description = string(fields["description"], field: "\(field).description")
        if fields["description"] == nil {
            report(
                "\(field).description", source.line,
                "required: what the parameter sets, for the person using the template")
        }
        if fields["type"] == nil {
            report("\(field).type", source.line, "required: one of string, number, integer, boolean, array, object")
        }
        guard case .object(var schema)? = json(source, field: field) else { return nil }
        let types = schema["type"].map { $0.arrayValue ?? [$0] } ?? []
        if let unknown = types.first(where: { !Self.jsonTypes.contains($0.stringValue ?? "") }) {
            report(
                "\(field).type", fields["type"]?.line,
                "\(unknown.jsonText) is not a JSON type; use one of \(Self.jsonTypes.sorted().joined(separator: ", "))")
            return nil
        }
        let defaultValue = schema.removeValue(forKey: "default")
        schema["description"] = nil
        if let problem = JSONSchema.problem(in: .object(schema)) {
            report(field, source.line, problem)
            return nil
        }
        if let defaultValue {
            for violation in JSONSchema(.object(schema)).violations(of: defaultValue, limit: 5) {
                report(
                    "\(field).default", fields["default"]?.line, "the default does not pass the schema: \(violation)")
            }
        }
        guard let description else { return nil }
        return TemplateParameter(
            name: name, description: description, schema: .object(schema), defaultValue: defaultValue)
    }

    private mutating func readWorkflow(
        _ source: YAMLSource, lines: [Substring], declared: [(name: String, line: Int?)]
    ) -> TemplateNode? {
        guard source.entries != nil else {
            report(
                "workflow", source.line, "expected a workflow definition (a mapping), found \(Self.kind(of: source))")
            return nil
        }
        guard let node = TemplateNode(source.node, lines: lines) else {
            report("workflow", source.line, "a workflow holds no YAML aliases and only text keys")
            return nil
        }
        if case .mapping(let entries, _, _) = node, let named = entries.first(where: { $0.key == "name" }) {
            report(
                "workflow.name", named.keyLine,
                "a template's workflow has no name: each workflow made from it is named when the template is used")
        }
        var used: Set<String> = []
        checkReferences(node, field: "workflow", declared: Set(declared.map(\.name)), used: &used)
        for parameter in declared where !used.contains(parameter.name) {
            report(
                "parameters.\(parameter.name)", parameter.line,
                "declared but never read; use it as ${{ params.\(parameter.name) }} in the workflow, or remove it")
        }
        return node
    }

    /// Reports every `params.NAME` that names no declared parameter, and what fails to parse.
    private mutating func checkReferences(
        _ node: TemplateNode, field: String, declared: Set<String>, used: inout Set<String>
    ) {
        switch node {
        case .scalar(let text, _, let line, _):
            do {
                for name in try ParameterSubstitution.names(in: text) {
                    used.insert(name)
                    if !declared.contains(name) {
                        let known = declared.sorted().joined(separator: ", ")
                        report(
                            field, line,
                            "params.\(name) is not a parameter of this template; declared: \(known.isEmpty ? "none" : known)"
                        )
                    }
                }
            } catch {
                report(field, line, error.description)
            }
        case .sequence(let elements, _, _):
            for (index, element) in elements.enumerated() {
                checkReferences(element, field: "\(field)[\(index)]", declared: declared, used: &used)
            }
        case .mapping(let entries, _, _):
            for entry in entries {
                if entry.key.contains("${{") {
                    report("\(field).\(entry.key)", entry.keyLine, "keys are not templates; parameters go in values")
                }
                checkReferences(entry.value, field: "\(field).\(entry.key)", declared: declared, used: &used)
            }
        }
    }

    private static func isName(
        _ text: String, first: (Character) -> Bool, rest: (Character) -> Bool
    ) -> Bool {
        guard let head = text.first, text.count <= 64, first(head) else { return false }
        return text.dropFirst().allSatisfy(rest)
    }
}

extension Character {
    fileprivate var isLowercaseLetter: Bool { isASCII && isLowercase }
    fileprivate var isLowercaseLetterOrDigit: Bool { isASCII && (isLowercase || isNumber) }
}
