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
        try Plan(text)?.names ?? []
    }

    /// Replaces the parameters in `text`; `parameters` holds every parameter's value.
    public static func substitute(in text: String, parameters: [String: JSONValue]) throws(ExpressionError)
        -> Outcome
    {
        try Plan(text)?.apply(parameters) ?? .unchanged
    }

    /// A string that reads parameters, parsed once (a template's strings are, when it is read)
    /// so that each use only evaluates.
    public struct Plan: Sendable, Hashable {
        /// The pieces of the string in order.
        enum Piece: Sendable, Hashable {
            /// Text, or a `${{ }}` that reads no parameter, kept as written.
            case kept(String)
            /// A `${{ }}` that reads only parameters: evaluated when the template is used.
            case evaluated(Expression)
            /// A `${{ }}` that reads parameters and run data (`expression`): its text with each
            /// parameter path (`params.limits.max`) written in as a literal.
            case literals([LiteralPiece], expression: Expression)
        }

        enum LiteralPiece: Sendable, Hashable {
            case source(String)
            case path(Expression, text: String)
        }

        let pieces: [Piece]
        /// True when the string is one `${{ }}` reading only parameters (spaces aside): its value keeps its type.
        let isLone: Bool
        /// How many `${{ }}` the string keeps for the run: the result must have exactly these.
        let runTemplates: Int
        /// The parameters the string reads.
        public let names: Set<String>

        /// The plan of `text`, or nil when it reads no parameter.
        public init?(_ text: String) throws(ExpressionError) {
            let spans = try ParameterSubstitution.spans(in: text)
            let characters = Array(text)
            var pieces: [Piece] = []
            var names: Set<String> = []
            var position = 0
            var evaluatedCount = 0
            for span in spans {
                pieces.append(.kept(String(characters[position..<span.start])))
                position = span.end
                let references = try ParameterSubstitution.references(in: span.source)
                guard !references.isEmpty else {
                    pieces.append(.kept(String(characters[span.start..<span.end])))
                    continue
                }
                for reference in references { names.insert(reference.name) }
                let expression = try Expression(parsing: span.source)
                if expression.referencedPaths.allSatisfy({ $0.first == root }) {
                    pieces.append(.evaluated(expression))
                    evaluatedCount += 1
                } else {
                    pieces.append(
                        .literals(try Self.literalPieces(of: span.source, references), expression: expression))
                }
            }
            guard !names.isEmpty else { return nil }
            pieces.append(.kept(String(characters[position...])))
            self.pieces = pieces.filter { $0 != .kept("") }
            self.names = names
            self.runTemplates = spans.count - evaluatedCount
            self.isLone =
                spans.count == 1 && evaluatedCount == 1
                && self.pieces.allSatisfy {
                    if case .kept(let text) = $0 { text.allSatisfy(\.isWhitespace) } else { true }
                }
        }

        /// The expression's text in pieces, spaces around it trimmed: source and parameter paths.
        private static func literalPieces(of source: String, _ references: [Reference]) throws(ExpressionError)
            -> [LiteralPiece]
        {
            let characters = Array(source)
            var pieces: [LiteralPiece] = []
            var position = 0
            for reference in references {
                let before = String(characters[position..<reference.start])
                pieces.append(.source(pieces.isEmpty ? String(before.drop(while: \.isWhitespace)) : before))
                let path = String(characters[reference.start..<reference.end])
                pieces.append(.path(try Expression(parsing: path), text: path))
                position = reference.end
            }
            let rest = String(characters[position...])
            pieces.append(.source(String(rest.reversed().drop(while: \.isWhitespace).reversed())))
            return pieces
        }

        /// The string with `parameters` (every parameter's value) in place.
        public func apply(_ parameters: [String: JSONValue]) throws(ExpressionError) -> Outcome {
            let context: [String: JSONValue] = [root: .object(parameters)]
            var result = ""
            for piece in pieces {
                switch piece {
                case .kept(let text):
                    result += text
                case .evaluated(let expression):
                    let value = try expression.evaluate(in: context)
                    if isLone {
                        guard !ParameterSubstitution.holdsTemplate(value) else { throw Self.madeTemplate }
                        return .value(value)
                    }
                    result += Template.text(of: value)
                case .literals(let literalPieces, let expression):
                    result += "${{ " + (try Self.literalText(literalPieces, expression, context)) + " }}"
                }
            }
            // Values may not hold `${{`, but pieces side by side could make one (`$` and `{{ … }}`).
            guard (try? ParameterSubstitution.spans(in: result))?.count == runTemplates else { throw Self.madeTemplate }
            return .text(result)
        }

        private static let madeTemplate = ExpressionError(
            "the parameters' values make a ${{ of their own here, which the run would read as a template")

        /// An expression's text with each parameter path written as a literal, checked by parsing
        /// it back: it must read as the expression with those literals in place, so no value can
        /// change what the expression does (text whose characters join the quotes around it would).
        private static func literalText(
            _ pieces: [LiteralPiece], _ expression: Expression, _ context: [String: JSONValue]
        ) throws(ExpressionError) -> String {
            var text = ""
            var literals: [Expression] = []
            var paths: [String] = []
            for piece in pieces {
                switch piece {
                case .source(let source): text += source
                case .path(let path, let pathText):
                    let value = try path.evaluate(in: context)
                    guard let literal = ParameterSubstitution.literal(of: value) else {
                        throw ExpressionError(
                            "\(pathText) is an object; an expression that also reads run data can take only text, numbers, booleans, null and lists of them from a parameter"
                        )
                    }
                    guard let parsed = try? Expression(parsing: literal) else {
                        throw ExpressionError("\(pathText) cannot be written into an expression: \(literal.prefix(80))")
                    }
                    text += literal
                    literals.append(parsed)
                    paths.append(pathText)
                }
            }
            var remaining = literals[...]
            let expected = expression.replacingParameterPaths { remaining.popFirst() ?? $0 }
            guard (try? Expression(parsing: text)) == expected else {
                throw ExpressionError(
                    "the value of \(paths.joined(separator: " or ")) does not read back as itself inside ${{ \(text.prefix(200)) }}: its text joins what surrounds it; give text that starts and ends with a letter, digit or punctuation"
                )
            }
            return text
        }
    }

    /// True when `value` holds text with `${{` anywhere: put in a workflow, the run would read it
    /// as a template.
    public static func holdsTemplate(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.contains("${{")
        case .array(let elements): elements.contains(where: holdsTemplate)
        case .object(let members): members.values.contains(where: holdsTemplate)
        default: false
        }
    }

    /// A `${{ … }}` in a string: where it starts and ends (character offsets) and its expression text.
    private struct Span {
        let start: Int
        let end: Int
        let source: String
    }

    private static func spans(in text: String) throws(ExpressionError) -> [Span] {
        guard text.contains("${{") else { return [] }
        var spans: [Span] = []
        var rest = Substring(text)
        var offset = 0
        while let open = rest.range(of: "${{") {
            let body = rest[open.upperBound...]
            let start = offset + rest.distance(from: rest.startIndex, to: open.lowerBound)
            guard let close = Template.closingBraces(in: body) else {
                throw ExpressionError(offset: start, "template ${{ is not closed with }}")
            }
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

extension Expression {
    /// True for `params.NAME…`: a static path from the parameters (fields and literal indexes).
    fileprivate var isParameterPath: Bool {
        switch self {
        case .member(let base, _): base.isParameterPath || base == .name(ParameterSubstitution.root)
        case .index(let base, .literal(.string)), .index(let base, .literal(.number)):
            base.isParameterPath || base == .name(ParameterSubstitution.root)
        default: false
        }
    }

    /// The expression with each parameter path, left to right, replaced by what `replace` gives for it.
    fileprivate func replacingParameterPaths(_ replace: (Expression) -> Expression) -> Expression {
        if isParameterPath { return replace(self) }
        switch self {
        case .literal, .name: return self
        case .list(let elements): return .list(elements.map { $0.replacingParameterPaths(replace) })
        case .member(let base, let name): return .member(base.replacingParameterPaths(replace), name)
        case .index(let base, let index):
            let replacedBase = base.replacingParameterPaths(replace)
            return .index(replacedBase, index.replacingParameterPaths(replace))
        case .unary(let op, let operand): return .unary(op, operand.replacingParameterPaths(replace))
        case .binary(let op, let left, let right):
            let replacedLeft = left.replacingParameterPaths(replace)
            return .binary(op, replacedLeft, right.replacingParameterPaths(replace))
        case .call(let function, let arguments):
            return .call(function, arguments.map { $0.replacingParameterPaths(replace) })
        }
    }
}
