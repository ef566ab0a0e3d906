import Foundation

/// A validation pass over a YAML or JSON definition (a workflow, a rules file): the file and
/// every problem found so far. The helpers read typed values and report what is wrong with
/// the field path, the line and what would be valid, and go on reading.
public protocol DefinitionReading {
    /// The file, for messages.
    var file: String { get }
    /// The problems found so far.
    var issues: [ValidationIssue] { get set }
}

extension DefinitionReading {
    /// Records a problem at `field` (a path such as `rules[2].amount`) and `line`.
    public mutating func report(_ field: String, _ line: Int?, _ message: String) {
        issues.append(ValidationIssue(file: file, line: line, field: field, message: message))
    }

    /// The entries of a mapping, reporting unknown and duplicate keys.
    public mutating func mapping(_ source: YAMLSource, field: String, allowed: Set<String>) -> [String: YAMLSource]? {
        guard let entries = source.entries else {
            report(field, source.line, "expected a mapping of keys to values, found \(Self.kind(of: source))")
            return nil
        }
        var result: [String: YAMLSource] = [:]
        for entry in entries {
            let path = field.isEmpty ? entry.key : "\(field).\(entry.key)"
            if result[entry.key] != nil {
                report(path, entry.keyLine, "duplicate key '\(entry.key)'")
            } else if !allowed.contains(entry.key) {
                let valid = allowed.sorted().joined(separator: ", ")
                report(path, entry.keyLine, "unknown key '\(entry.key)'; valid keys here: \(valid)")
            } else {
                result[entry.key] = entry.value
            }
        }
        return result
    }

    /// Reads a document whose one key `key` holds a list (`agents:`, `connectors:`): each element
    /// read by `read` with its field path (`key[i]`); a missing list and two elements with the same
    /// `name` are reported.
    public mutating func namedList<Element>(
        _ root: YAMLSource, key: String, noun: String, name: (Element) -> String,
        read: (inout Self, YAMLSource, String) -> Element?
    ) -> [Element] {
        var elements: [Element] = []
        if let fields = mapping(root, field: "", allowed: [key]) {
            if let list = fields[key]?.elements {
                for (index, source) in list.enumerated() {
                    if let element = read(&self, source, "\(key)[\(index)]") { elements.append(element) }
                }
            } else {
                report(key, root.line, "required: a list of \(noun)s")
            }
        }
        var seen: Set<String> = []
        for element in elements where !seen.insert(name(element)).inserted {
            report(key, nil, "duplicate \(noun) name \"\(name(element))\"")
        }
        return elements
    }

    /// Reads `text` (YAML, or JSON) from ``file`` as a document whose one key `key` holds a list
    /// (``namedList(_:key:noun:name:read:)``): the elements, or every problem found.
    public mutating func document<Element>(
        _ text: String, key: String, noun: String, name: (Element) -> String,
        read: (inout Self, YAMLSource, String) -> Element?
    ) throws(ValidationFailure) -> [Element] {
        let root: YAMLSource
        switch YAMLSource.parse(text, file: file) {
        case .success(let source): root = source
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        let elements = namedList(root, key: key, noun: noun, name: name, read: read)
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }
        return elements
    }

    /// What a node is, for messages: "a mapping", "a list", "a string"…
    public static func kind(of source: YAMLSource) -> String {
        if source.entries != nil { return "a mapping" }
        if source.elements != nil { return "a list" }
        switch source.jsonValue() {
        case .success(let value): return "a \(value.typeName)"
        case .failure: return "an unsupported value"
        }
    }

    /// A string, or nil (reported) when the node is something else.
    public mutating func string(_ source: YAMLSource?, field: String) -> String? {
        guard let source else { return nil }
        guard let string = source.string else {
            report(field, source.line, "expected a string, found \(Self.kind(of: source))")
            return nil
        }
        return string
    }

    /// A whole number within `range`, or nil (reported).
    public mutating func integer(_ source: YAMLSource?, field: String, range: ClosedRange<Int>) -> Int? {
        guard let source else { return nil }
        guard case .success(.number(let number)) = source.jsonValue(), let value = number.intValue,
            range.contains(value)
        else {
            report(
                field, source.line,
                "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(Self.describe(source))"
            )
            return nil
        }
        return value
    }

    /// A positive duration such as `30s`, or nil (reported).
    public mutating func duration(_ source: YAMLSource?, field: String) -> Duration? {
        guard let source else { return nil }
        guard let text = source.string, let duration = DurationText.parse(text), duration > .zero else {
            report(
                field, source.line, "\(Self.describe(source)) is not a duration; expected \(DurationText.expectation)")
            return nil
        }
        return duration
    }

    /// The node as a JSON value with exact numbers, or nil (reported).
    public mutating func json(_ source: YAMLSource?, field: String) -> JSONValue? {
        guard let source else { return nil }
        switch source.jsonValue() {
        case .success(let value): return value
        case .failure(let error):
            report(field, source.line, error.message)
            return nil
        }
    }

    /// A value whose strings may hold `${{ … }}` expressions, compiled; nil (reported) when one does not parse.
    public mutating func template(_ source: YAMLSource?, field: String) -> ValueTemplate? {
        guard let value = json(source, field: field) else { return nil }
        do {
            return try ValueTemplate(compiling: value, path: field)
        } catch {
            report(error.path, source?.line, "invalid expression: \(error.error)")
            return nil
        }
    }

    /// The node as it reads in a message: a quoted string, a literal, or its kind.
    public static func describe(_ source: YAMLSource) -> String {
        switch source.jsonValue() {
        case .success(.string(let string)): return "\"\(string)\""
        case .success(let value) where source.entries == nil && source.elements == nil: return value.jsonText
        default: return kind(of: source)
        }
    }
}
