import Yams

/// A YAML (or JSON) node with the line it came from, read without losing number precision.
public struct YAMLSource {
    /// The composed node, for readers that rebuild a document (a workflow template's instance).
    public let node: Node

    /// Wraps a composed node.
    public init(node: Node) { self.node = node }

    /// The 1-based line of the node.
    public var line: Int? { node.mark?.line }

    /// Parses YAML or JSON text into its root node, or a validation issue with the line of the syntax error.
    public static func parse(_ text: String, file: String) -> Result<YAMLSource, ValidationIssue> {
        do {
            // The basic resolver skips Yams' regular expressions; plain scalars are typed by `scalarValue`.
            guard let node = try Yams.compose(yaml: text, .basic) else {
                return .failure(ValidationIssue(file: file, line: nil, field: "", message: "the file is empty"))
            }
            // Aliases share nodes, so composing was cheap; walking the expansion may not be.
            var budget = max(ValueLimits.maximumYAMLNodes, text.utf8.count)
            if let (problem, line) = limitViolation(node, depth: 0, budget: &budget) {
                return .failure(ValidationIssue(file: file, line: line, field: "", message: problem))
            }
            return .success(YAMLSource(node: node))
        } catch let error as YamlError {
            return .failure(issue(for: error, file: file))
        } catch {
            return .failure(
                ValidationIssue(file: file, line: nil, field: "", message: "not valid YAML or JSON: \(error)"))
        }
    }

    /// Why a composed document is refused: nesting deeper than ``ValueLimits/maximumDepth`` or more
    /// than ``ValueLimits/maximumYAMLNodes`` nodes once aliases are expanded; nil when it is within both.
    /// Stops as soon as a limit is passed, so a document built to expand forever costs little.
    private static func limitViolation(_ node: Node, depth: Int, budget: inout Int) -> (String, line: Int?)? {
        budget -= 1
        guard budget >= 0 else {
            return ("the document expands to more values through aliases than its size allows", nil)
        }
        switch node {
        case .scalar, .alias: return nil
        case .sequence(let sequence):
            guard depth < ValueLimits.maximumDepth else { return tooDeep(sequence.mark) }
            for element in sequence {
                if let problem = limitViolation(element, depth: depth + 1, budget: &budget) { return problem }
            }
        case .mapping(let mapping):
            guard depth < ValueLimits.maximumDepth else { return tooDeep(mapping.mark) }
            for pair in mapping {
                if let problem = limitViolation(pair.value, depth: depth + 1, budget: &budget) { return problem }
            }
        }
        return nil
    }

    private static func tooDeep(_ mark: Mark?) -> (String, line: Int?) {
        ("lists and mappings nest deeper than \(ValueLimits.maximumDepth) levels", mark?.line)
    }

    private static func issue(for error: YamlError, file: String) -> ValidationIssue {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return ValidationIssue(file: file, line: mark.line, field: "", message: "not valid YAML or JSON: \(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ValidationIssue(
                file: file, line: context.mark.line, field: "", message: "duplicate key \(keys) in one mapping")
        default:
            return ValidationIssue(file: file, line: nil, field: "", message: "not valid YAML or JSON: \(error)")
        }
    }

    /// Mapping entries in file order, or nil when this is not a mapping.
    public var entries: [(key: String, keyLine: Int?, value: YAMLSource)]? {
        guard case .mapping(let mapping) = node else { return nil }
        return mapping.map { pair in
            (pair.key.string ?? "\(pair.key)", pair.key.mark?.line, YAMLSource(node: pair.value))
        }
    }

    /// Sequence elements, or nil when this is not a sequence.
    public var elements: [YAMLSource]? {
        guard case .sequence(let sequence) = node else { return nil }
        return sequence.map(YAMLSource.init)
    }

    /// The text of a scalar that YAML reads as a string (quoted, or plain and not a number, boolean or null).
    public var string: String? {
        if case .success(.string(let string))? = scalarValue { return string }
        return nil
    }

    /// A scalar typed by the YAML 1.2 core schema: quoted scalars are strings; plain ones may be
    /// null (`~`, `null`), booleans (`true`, `false`), exact decimal numbers, or strings.
    public var scalarValue: Result<JSONValue, YAMLValueError>? {
        guard case .scalar(let scalar) = node else { return nil }
        let text = scalar.string
        guard scalar.style == .plain || scalar.style == .any else { return .success(.string(text)) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .success(.null)
        case "true", "True", "TRUE": return .success(.bool(true))
        case "false", "False", "FALSE": return .success(.bool(false))
        default: break
        }
        guard Number.isDecimalLiteral(text) else { return .success(.string(text)) }
        guard let number = Number(parsing: text) else {
            return .failure(YAMLValueError(message: "\(text) is not an exact decimal number of at most 38 digits"))
        }
        return .success(.number(number))
    }

    /// The value converted to JSON; numbers keep every digit.
    public func jsonValue() -> Result<JSONValue, YAMLValueError> {
        switch node {
        case .scalar:
            return scalarValue ?? .success(.null)
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for element in sequence {
                switch YAMLSource(node: element).jsonValue() {
                case .success(let value): values.append(value)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.array(values))
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for pair in mapping {
                guard let key = pair.key.string else {
                    return .failure(YAMLValueError(message: "object keys must be strings"))
                }
                switch YAMLSource(node: pair.value).jsonValue() {
                case .success(let value): members[key] = value
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.object(members))
        case .alias:
            return .failure(YAMLValueError(message: "YAML aliases are not supported"))
        }
    }
}

/// A YAML value that has no JSON equivalent.
public struct YAMLValueError: Error {
    /// What is wrong.
    public let message: String
}
