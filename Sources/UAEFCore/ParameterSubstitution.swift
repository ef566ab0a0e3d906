import Foundation

/// Replaces a workflow template's parameters (`${{ params.NAME }}`) in one string when the
/// template is used, leaving every other template (`${{ inputs.total }}`) for the run to evaluate.
///
/// - A `${{ }}` that reads only `params` is evaluated now: alone in its string (spaces aside) it
///   becomes the value with its type; inside text it becomes text.
/// - A `${{ }}` that reads `params` and run data (`${{ inputs.total > params.threshold }}`) keeps
///   the run's part: each `params.NAME…` is written in as a literal, so the parameter's value must
///   be text, a number, a boolean, null or a list of those.
public enum ParameterSubstitution {
    /// The name expressions read parameters through.
    public static let root = "params"

    /// What became of a string.
    public enum Outcome: Sendable, Equatable {
        /// It reads no parameter.
        case unchanged
        /// It was one lone `${{ }}` reading only parameters: this value, with its type.
        case value(JSONValue)
        /// Its text with the parameters replaced.
        case text(String)
    }

    /// The parameter names `text` reads (`params.NAME`), for checking them against a template's
    /// declared parameters; throws when a template in it does not parse or reads `params` other
    /// than by a name (`params[x]`, `params` alone).
    public static func names(in text: String) throws(ExpressionError) -> Set<String> {
        var names: Set<String> = []
        for span in try spans(in: text) {
            for reference in try references(in: span.source) { names.insert(reference.name) }
        }
        return names
    }

    /// Replaces the parameters in `text`; `parameters` holds every parameter's value.
    public static func substitute(in text: String, parameters: [String: JSONValue]) throws(ExpressionError)
        -> Outcome
    {
        let spans = try spans(in: text)
        guard !spans.isEmpty else { return .unchanged }
        let context: [String: JSONValue] = [root: .object(parameters)]
        let characters = Array(text)
        var result = ""
        var position = 0
        var changed = false
        for span in spans {
            result += String(characters[position..<span.start])
            position = span.end
            let references = try references(in: span.source)
            guard !references.isEmpty else {
                result += String(characters[span.start..<span.end])
                continue
            }
            changed = true
            let expression = try Expression(parsing: span.source)
            let readsOnlyParameters = expression.referencedPaths.allSatisfy { $0.first == root }
            guard readsOnlyParameters else {
                result += "${{ " + (try literalSource(of: span.source, references, context: context)) + " }}"
                continue
            }
            let value = try expression.evaluate(in: context)
            let around = String(characters[0..<span.start]) + String(characters[span.end...])
            if spans.count == 1, around.allSatisfy(\.isWhitespace) { return .value(value) }
            let rendered = Template.text(of: value)
            guard !rendered.contains("${{") else {
                throw ExpressionError("a parameter's text may not hold ${{, which the run would read as a template")
            }
            result += rendered
        }
        result += String(characters[position...])
        return changed ? .text(result) : .unchanged
    }

    /// A `${{ … }}` in a string: where it starts and ends (character offsets) and its expression text.
    private struct Span {
        let start: Int
        let end: Int
        let source: String
    }

    private static func spans(in text: String) throws(ExpressionError) -> [Span] {
        guard text.contains("${{") else { return [] }
        // Template parsing reports unclosed and malformed templates with their offsets.
        _ = try Template(parsing: text)
        var spans: [Span] = []
        var rest = Substring(text)
        var offset = 0
        while let open = rest.range(of: "${{") {
            let body = rest[open.upperBound...]
            guard let close = Template.closingBraces(in: body) else { break }
            let start = offset + rest.distance(from: rest.startIndex, to: open.lowerBound)
            let after = body.index(close, offsetBy: 2)
            let end = offset + rest.distance(from: rest.startIndex, to: after)
            spans.append(Span(start: start, end: end, source: String(body[..<close])))
            offset = end
            rest = body[after...]
        }
        return spans
    }

    /// One `params.NAME…` in an expression: the parameter, and the characters of the whole path
    /// (`params.limits.max`), which is evaluated as one value.
    private struct Reference {
        let name: String
        let start: Int
        let end: Int
    }

    private static func references(in source: String) throws(ExpressionError) -> [Reference] {
        let tokens = try ExpressionLexer.tokens(of: source)
        var found: [Reference] = []
        var index = 0
        while index < tokens.count {
            defer { index += 1 }
            guard case .identifier(root) = tokens[index].kind else { continue }
            if index > 0, tokens[index - 1].kind == .symbol(".") { continue }
            guard index + 2 < tokens.count, tokens[index + 1].kind == .symbol("."),
                case .identifier(let name) = tokens[index + 2].kind
            else {
                throw ExpressionError(
                    offset: tokens[index].offset, "read a parameter by its name: \(root).NAME")
            }
            var last = index + 2
            var end = tokens[last].offset + name.count
            // The rest of a static path: `.field` and `[literal]`.
            while last + 2 < tokens.count {
                if tokens[last + 1].kind == .symbol("."), case .identifier(let field) = tokens[last + 2].kind {
                    last += 2
                    end = tokens[last].offset + field.count
                } else if last + 3 < tokens.count, tokens[last + 1].kind == .symbol("["),
                    isLiteral(tokens[last + 2].kind), tokens[last + 3].kind == .symbol("]")
                {
                    last += 3
                    end = tokens[last].offset + 1
                } else {
                    break
                }
            }
            found.append(Reference(name: name, start: tokens[index].offset, end: end))
            index = last
        }
        return found
    }

    private static func isLiteral(_ kind: ExpressionToken.Kind) -> Bool {
        switch kind {
        case .number, .string: true
        default: false
        }
    }

    /// The expression with each parameter path replaced by its value as a literal.
    private static func literalSource(
        of source: String, _ references: [Reference], context: [String: JSONValue]
    ) throws(ExpressionError) -> String {
        let characters = Array(source)
        var result = ""
        var position = 0
        for reference in references {
            result += String(characters[position..<reference.start])
            let path = String(characters[reference.start..<reference.end])
            let value = try Expression(parsing: path).evaluate(in: context)
            guard let literal = literal(of: value) else {
                throw ExpressionError(
                    offset: reference.start,
                    "\(path) is an object; an expression that also reads run data can take only text, numbers, booleans, null and lists of them from a parameter"
                )
            }
            result += literal
            position = reference.end
        }
        result += String(characters[position...])
        return result.trimmingCharacters(in: .whitespaces)
    }

    /// The expression text that reads as `value`, or nil for an object (the language has no object literals).
    static func literal(of value: JSONValue) -> String? {
        switch value {
        case .null: return "null"
        case .bool(let bool): return bool ? "true" : "false"
        case .number(let number): return number < Number(0) ? "(\(number.description))" : number.description
        case .string(let string):
            var quoted = "\""
            for character in string {
                switch character {
                case "\\": quoted += "\\\\"
                case "\"": quoted += "\\\""
                case "\n": quoted += "\\n"
                case "\t": quoted += "\\t"
                default: quoted.append(character)
                }
            }
            return quoted + "\""
        case .array(let elements):
            var items: [String] = []
            for element in elements {
                guard let item = literal(of: element) else { return nil }
                items.append(item)
            }
            return "[" + items.joined(separator: ", ") + "]"
        case .object: return nil
        }
    }
}
