import UAEFCore

/// A workflow template: a workflow definition with declared parameters (`${{ params.NAME }}`),
/// made into a workflow of its own name by ``instantiate(named:values:place:)`` (the business processes
/// UAEF ships, or an operator's own, read by ``TemplateReader``).
public struct WorkflowTemplate: Sendable {
    /// The template's name, `[a-z0-9][a-z0-9-]*`: also the default name of workflows made from it.
    public var name: String
    /// Its version (≥ 1), recorded with every workflow made from it.
    public var version: Int
    /// A short title for lists, e.g. "Invoice approval".
    public var title: String
    /// What the process does and what it needs (agents by capability, roles).
    public var description: String
    /// A word to group templates by, e.g. `finance`.
    public var category: String?
    /// The parameters in the order the file declares them.
    public var parameters: [TemplateParameter]
    /// The `workflow:` section, with the template's lines.
    let workflow: TemplateNode
    /// Where the template came from (a file path, or `built-in NAME.yaml`), for messages.
    public var origin: String
    /// The template file's exact text.
    public var source: String
    /// Hex SHA-256 of ``source``.
    public var sha256: String

    /// The parameter named `name`, if declared.
    public func parameter(named name: String) -> TemplateParameter? {
        parameters.first { $0.name == name }
    }
}

/// One declared parameter: a JSON Schema for its value, with a description and maybe a default.
public struct TemplateParameter: Sendable, Hashable {
    /// `[a-z_][a-z0-9_]*`, read in the workflow as `params.NAME`.
    public var name: String
    /// What it sets, for the person using the template.
    public var description: String
    /// The JSON Schema its value must pass (`type` at least; `description` and `default` removed).
    public var schema: JSONValue
    /// The value used when none is given; nil makes the parameter required.
    public var defaultValue: JSONValue?

    /// True when a value must be given.
    public var isRequired: Bool { defaultValue == nil }

    /// A value as typed in a form or on a command line: as text when the schema takes only text,
    /// else as JSON when it is JSON, else as text (a `[string, null]` parameter reads `null` as
    /// null and anything else as text).
    public func value(typed text: String) -> JSONValue {
        let types = schema["type"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue ?? ""] } ?? []
        if types == ["string"] { return .string(text) }
        return (try? JSONValue(jsonText: text)) ?? .string(text)
    }

    /// `{"name", "description", "schema", "required", "default"?}`, as the API and `--json` show it.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "description": .string(description), "schema": schema,
            "required": .bool(isRequired),
        ]
        if let defaultValue { members["default"] = defaultValue }
        return .object(members)
    }
}

extension WorkflowTemplate {
    /// `{"name", "version", "title", "description", "category", "sha256", "parameters"}`, with
    /// `source` when asked: how the API, the MCP tools and `--json` describe a template.
    public func json(source includeSource: Bool) -> JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "version": .number(Number(version)), "title": .string(title),
            "description": .string(description), "category": category.map(JSONValue.string) ?? .null,
            "sha256": .string(sha256), "parameters": .array(parameters.map(\.json)),
        ]
        if includeSource { members["source"] = .string(source) }
        return .object(members)
    }
}
