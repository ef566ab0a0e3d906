/// Why an expression could not be parsed or evaluated.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Character offset into the expression text where the problem is, when it is known.
    public let offset: Int?
    /// What is wrong, phrased for the person who wrote the expression.
    public let reason: String

    public init(offset: Int? = nil, _ reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        offset.map { "\(reason) (at character \($0 + 1))" } ?? reason
    }
}

extension Expression {
    /// The longest expression text accepted.
    public static let maximumLength = 10_000
    /// The deepest nesting of parentheses, lists, calls and chained operators accepted.
    public static let maximumDepth = 100

    /// Parses expression text such as `tasks.extract.output.total > 1000 && !inputs.dry_run`.
    public init(parsing text: String) throws(ExpressionError) {
        guard text.count <= Expression.maximumLength else {
            throw ExpressionError("expression is longer than \(Expression.maximumLength) characters")
        }
        var parser = ExpressionParser(tokens: try ExpressionLexer.tokens(of: text))
        self = try parser.parseAll()
    }
}

/// A lexical token with its character offset.
struct ExpressionToken: Equatable {
    enum Kind: Equatable {
        case number(Number)
        case string(String)
        case identifier(String)
        case symbol(String)
        case end
    }

    let kind: Kind
    let offset: Int
}

enum ExpressionLexer {
    private static let symbols = [
        "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "!", "(", ")", "[", "]", ".", ",",
    ]

    static func tokens(of text: String) throws(ExpressionError) -> [ExpressionToken] {
        let characters = Array(text)
        var tokens: [ExpressionToken] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
            } else if character.isASCII, character.isNumber {
                let start = index
                while index < characters.count, characters[index].isASCII, characters[index].isNumber { index += 1 }
                if index + 1 < characters.count, characters[index] == ".", characters[index + 1].isASCII,
                    characters[index + 1].isNumber
                {
                    index += 1
                    while index < characters.count, characters[index].isASCII, characters[index].isNumber { index += 1 }
                }
                let literal = String(characters[start..<index])
                guard let number = Number(parsing: literal) else {
                    throw ExpressionError(offset: start, "number \(literal) has more digits than the 38 allowed")
                }
                tokens.append(ExpressionToken(kind: .number(number), offset: start))
            } else if character == "\"" || character == "'" {
                let start = index
                tokens.append(ExpressionToken(kind: .string(try string(in: characters, at: &index)), offset: start))
            } else if character.isLetter || character == "_" {
                let start = index
                while index < characters.count,
                    characters[index].isLetter || characters[index].isNumber || characters[index] == "_"
                {
                    index += 1
                }
                tokens.append(ExpressionToken(kind: .identifier(String(characters[start..<index])), offset: start))
            } else if let symbol = symbols.first(where: { matches($0, in: characters, at: index) }) {
                tokens.append(ExpressionToken(kind: .symbol(symbol), offset: index))
                index += symbol.count
            } else {
                throw ExpressionError(offset: index, "unexpected character '\(character)'")
            }
        }
        tokens.append(ExpressionToken(kind: .end, offset: characters.count))
        return tokens
    }

    private static func matches(_ symbol: String, in characters: [Character], at index: Int) -> Bool {
        let symbolCharacters = Array(symbol)
        guard index + symbolCharacters.count <= characters.count else { return false }
        return Array(characters[index..<index + symbolCharacters.count]) == symbolCharacters
    }

    private static func string(in characters: [Character], at index: inout Int) throws(ExpressionError) -> String {
        let start = index
        let quote = characters[index]
        index += 1
        var value = ""
        while index < characters.count {
            let character = characters[index]
            index += 1
            if character == quote { return value }
            guard character == "\\" else {
                value.append(character)
                continue
            }
            guard index < characters.count else { break }
            let escaped = characters[index]
            index += 1
            switch escaped {
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "\\", "\"", "'": value.append(escaped)
            default:
                throw ExpressionError(offset: index - 2, "unknown escape \\\(escaped); valid: \\n \\t \\\\ \\\" \\'")
            }
        }
        throw ExpressionError(offset: start, "string is not closed with \(quote)")
    }
}

/// A recursive-descent parser with bounded depth.
struct ExpressionParser {
    private let tokens: [ExpressionToken]
    private var position = 0
    private var depth = 0

    init(tokens: [ExpressionToken]) { self.tokens = tokens }

    private var current: ExpressionToken { tokens[position] }

    mutating func parseAll() throws(ExpressionError) -> Expression {
        if case .end = current.kind { throw ExpressionError(offset: 0, "expression is empty") }
        let expression = try parseOr()
        guard case .end = current.kind else { throw unexpected("an operator or the end of the expression") }
        return expression
    }

    private func unexpected(_ expectation: String) -> ExpressionError {
        let found: String
        switch current.kind {
        case .number(let number): found = "number \(number)"
        case .string: found = "a string"
        case .identifier(let name): found = "'\(name)'"
        case .symbol(let symbol): found = "'\(symbol)'"
        case .end: found = "the end of the expression"
        }
        return ExpressionError(offset: current.offset, "expected \(expectation), found \(found)")
    }

    private mutating func take(_ symbol: String) -> Bool {
        guard current.kind == .symbol(symbol) else { return false }
        position += 1
        return true
    }

    private mutating func require(_ symbol: String) throws(ExpressionError) {
        guard take(symbol) else { throw unexpected("'\(symbol)'") }
    }

    private mutating func nested<T>(_ body: (inout ExpressionParser) throws(ExpressionError) -> T)
        throws(ExpressionError) -> T
    {
        try descend()
        defer { depth -= 1 }
        return try body(&self)
    }

    /// Goes one level deeper, refusing to pass the maximum depth.
    private mutating func descend() throws(ExpressionError) {
        depth += 1
        guard depth <= Expression.maximumDepth else {
            throw ExpressionError(
                offset: current.offset, "expression nests deeper than \(Expression.maximumDepth) levels")
        }
    }

    private mutating func parseBinary(
        _ operators: [Expression.BinaryOperator],
        next: (inout ExpressionParser) throws(ExpressionError) -> Expression
    ) throws(ExpressionError) -> Expression {
        // Each link of a chain such as `a + b + c` deepens the left operand's tree, so it counts as nesting.
        var left = try next(&self)
        var links = 0
        defer { depth -= links }
        while let op = operators.first(where: { take($0.rawValue) }) {
            try descend()
            links += 1
            let right = try next(&self)
            left = .binary(op, left, right)
        }
        return left
    }

    private mutating func parseOr() throws(ExpressionError) -> Expression {
        try parseBinary([.or]) { parser throws(ExpressionError) in try parser.parseAnd() }
    }

    private mutating func parseAnd() throws(ExpressionError) -> Expression {
        try parseBinary([.and]) { parser throws(ExpressionError) in try parser.parseComparison() }
    }

    private mutating func parseComparison() throws(ExpressionError) -> Expression {
        let left = try parseAdditive()
        let comparisons: [Expression.BinaryOperator] = [
            .equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater,
        ]
        guard let op = comparisons.first(where: { take($0.rawValue) }) else { return left }
        let right = try parseAdditive()
        if comparisons.contains(where: { current.kind == .symbol($0.rawValue) }) {
            throw ExpressionError(offset: current.offset, "comparisons do not chain; combine them with && or ||")
        }
        return .binary(op, left, right)
    }

    private mutating func parseAdditive() throws(ExpressionError) -> Expression {
        try parseBinary([.add, .subtract]) { parser throws(ExpressionError) in try parser.parseMultiplicative() }
    }

    private mutating func parseMultiplicative() throws(ExpressionError) -> Expression {
        try parseBinary([.multiply, .divide, .remainder]) { parser throws(ExpressionError) in try parser.parseUnary() }
    }

    private mutating func parseUnary() throws(ExpressionError) -> Expression {
        for op in [Expression.UnaryOperator.not, .negate] where take(op.rawValue) {
            return .unary(op, try nested { parser throws(ExpressionError) in try parser.parseUnary() })
        }
        return try parsePostfix()
    }

    private mutating func parsePostfix() throws(ExpressionError) -> Expression {
        var expression = try parsePrimary()
        var links = 0
        defer { depth -= links }
        while true {
            if current.kind == .symbol(".") || current.kind == .symbol("[") {
                try descend()
                links += 1
            }
            if take(".") {
                guard case .identifier(let member) = current.kind else { throw unexpected("a field name after '.'") }
                position += 1
                expression = .member(expression, member)
            } else if take("[") {
                let index = try nested { parser throws(ExpressionError) in try parser.parseOr() }
                try require("]")
                expression = .index(expression, index)
            } else {
                return expression
            }
        }
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Expression {
        let token = current
        switch token.kind {
        case .number(let number):
            position += 1
            return .literal(.number(number))
        case .string(let string):
            position += 1
            return .literal(.string(string))
        case .identifier(let name):
            position += 1
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            default: break
            }
            guard take("(") else { return .name(name) }
            guard let function = Expression.Function(rawValue: name) else {
                let known = Expression.Function.allCases.map(\.rawValue).sorted().joined(separator: ", ")
                throw ExpressionError(offset: token.offset, "unknown function '\(name)'; functions are \(known)")
            }
            let arguments = try parseSequence(closing: ")")
            guard function.arity.contains(arguments.count) else {
                let arity = function.arity
                let expected = arity.count == 1 ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
                throw ExpressionError(
                    offset: token.offset, "\(name) takes \(expected) arguments, not \(arguments.count)")
            }
            return .call(function, arguments)
        case .symbol("("):
            position += 1
            let inner = try nested { parser throws(ExpressionError) in try parser.parseOr() }
            try require(")")
            return inner
        case .symbol("["):
            position += 1
            return .list(try parseSequence(closing: "]"))
        default:
            throw unexpected("a value, a name, '(' or '['")
        }
    }

    private mutating func parseSequence(closing: String) throws(ExpressionError) -> [Expression] {
        var elements: [Expression] = []
        if take(closing) { return elements }
        repeat {
            guard elements.count < Expression.maximumArguments else {
                throw ExpressionError(offset: current.offset, "more than \(Expression.maximumArguments) elements")
            }
            elements.append(try nested { parser throws(ExpressionError) in try parser.parseOr() })
        } while take(",")
        try require(closing)
        return elements
    }
}
