import Foundation

/// A string that may hold `${{ expression }}` templates.
///
/// A string that is exactly one template (surrounding spaces aside) evaluates to the expression's
/// value with its type; templates inside other text are rendered as text.
public struct Template: Sendable, Hashable {
    /// A piece of a template string.
    public enum Segment: Sendable, Hashable {
        case text(String)
        case expression(Expression)
    }

    /// The pieces in order.
    public let segments: [Segment]

    /// Parses `text`; text without `${{` is one text segment.
    public init(parsing text: String) throws(ExpressionError) {
        var segments: [Segment] = []
        var rest = Substring(text)
        var consumed = 0
        while let open = rest.range(of: "${{") {
            let before = String(rest[..<open.lowerBound])
            if !before.isEmpty { segments.append(.text(before)) }
            let body = rest[open.upperBound...]
            guard let close = Template.closingBraces(in: body) else {
                let offset = consumed + rest.distance(from: rest.startIndex, to: open.lowerBound)
                throw ExpressionError(offset: offset, "template ${{ is not closed with }}")
            }
            let source = String(body[..<close])
            do {
                segments.append(.expression(try Expression(parsing: source)))
            } catch {
                let start = consumed + rest.distance(from: rest.startIndex, to: open.upperBound)
                throw ExpressionError(offset: error.offset.map { start + $0 }, error.reason)
            }
            let after = body.index(close, offsetBy: 2)
            consumed += rest.distance(from: rest.startIndex, to: after)
            rest = body[after...]
        }
        if !rest.isEmpty { segments.append(.text(String(rest))) }
        if segments.count == 1, case .text = segments[0] {
            self.segments = segments
            return
        }
        // A lone template with only spaces around it keeps its value's type.
        let expressions = segments.filter { if case .expression = $0 { true } else { false } }
        let onlySpaces = segments.allSatisfy {
            if case .text(let text) = $0 { text.allSatisfy(\.isWhitespace) } else { true }
        }
        self.segments = expressions.count == 1 && onlySpaces ? expressions : segments
    }

    /// Finds the `}}` that ends a template, skipping quoted strings.
    static func closingBraces(in body: Substring) -> Substring.Index? {
        var quote: Character?
        var index = body.startIndex
        while index < body.endIndex {
            let character = body[index]
            if let open = quote {
                if character == "\\" {
                    index = body.index(after: index)
                    if index == body.endIndex { return nil }
                } else if character == open {
                    quote = nil
                }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "}", body[index...].hasPrefix("}}") {
                return index
            }
            index = body.index(after: index)
        }
        return nil
    }

    /// True when the string holds no template.
    public var isPlainText: Bool {
        segments.allSatisfy { if case .text = $0 { true } else { false } }
    }

    /// Every expression in the template.
    public var expressions: [Expression] {
        segments.compactMap { if case .expression(let expression) = $0 { expression } else { nil } }
    }

    /// Evaluates the template: a lone template keeps its type, anything else becomes text.
    public func render(in context: [String: JSONValue]) throws(ExpressionError) -> JSONValue {
        if segments.count == 1, case .expression(let expression) = segments[0] {
            return try expression.evaluate(in: context)
        }
        var text = ""
        for segment in segments {
            switch segment {
            case .text(let literal): text += literal
            case .expression(let expression): text += Template.text(of: try expression.evaluate(in: context))
            }
            guard text.utf8.count <= Expression.maximumResultLength else {
                throw ExpressionError("rendered text is longer than \(Expression.maximumResultLength) bytes")
            }
        }
        return .string(text)
    }

    /// How a value reads inside text: strings as they are, `null` as nothing, lists and objects as JSON.
    public static func text(of value: JSONValue) -> String {
        switch value {
        case .null: ""
        case .string(let string): string
        case .bool(let bool): bool ? "true" : "false"
        case .number(let number): number.description
        case .array, .object: value.jsonText
        }
    }
}

/// A JSON value whose strings may hold templates, such as a task's `with` parameters.
public indirect enum ValueTemplate: Sendable, Hashable {
    case value(JSONValue)
    case template(Template)
    case array([ValueTemplate])
    case object([String: ValueTemplate])

    /// Compiles every string of `value` as a template; `path` names where it sits, for errors.
    public init(compiling value: JSONValue, path: String) throws(TemplateError) {
        switch value {
        case .string(let string):
            do {
                let template = try Template(parsing: string)
                self = template.isPlainText ? .value(value) : .template(template)
            } catch {
                throw TemplateError(path: path, error: error)
            }
        case .array(let elements):
            var compiled: [ValueTemplate] = []
            for (index, element) in elements.enumerated() {
                compiled.append(try ValueTemplate(compiling: element, path: "\(path)[\(index)]"))
            }
            self = compiled.allSatisfy(\.isConstant) ? .value(value) : .array(compiled)
        case .object(let members):
            var compiled: [String: ValueTemplate] = [:]
            for (key, member) in members {
                compiled[key] = try ValueTemplate(compiling: member, path: "\(path).\(key)")
            }
            self = compiled.values.allSatisfy(\.isConstant) ? .value(value) : .object(compiled)
        default:
            self = .value(value)
        }
    }

    private var isConstant: Bool { if case .value = self { true } else { false } }

    /// Every expression anywhere inside.
    public var expressions: [Expression] {
        switch self {
        case .value: []
        case .template(let template): template.expressions
        case .array(let elements): elements.flatMap(\.expressions)
        case .object(let members): members.values.flatMap(\.expressions)
        }
    }

    /// Evaluates every template inside. Data a template renders may not name a secret
    /// (``SecretReference``): only the text around the templates may.
    public func render(in context: [String: JSONValue]) throws(ExpressionError) -> JSONValue {
        switch self {
        case .value(let value): return value
        case .template(let template):
            let value = try template.render(in: context)
            guard !SecretReference.occurs(in: value) else {
                throw ExpressionError(
                    "the rendered data holds a {\"\(SecretReference.member)\": …} placeholder; only the workflow's own text or an agent's configuration may name a secret"
                )
            }
            return value
        case .array(let elements):
            var values: [JSONValue] = []
            for element in elements { values.append(try element.render(in: context)) }
            return .array(values)
        case .object(let members):
            var values: [String: JSONValue] = [:]
            for (key, member) in members { values[key] = try member.render(in: context) }
            return .object(values)
        }
    }
}

/// A template that does not parse, with the path of the value that holds it.
public struct TemplateError: Error, Sendable, Equatable {
    /// Where the string sits, e.g. `with.body.total`.
    public let path: String
    /// What is wrong with it.
    public let error: ExpressionError
}
