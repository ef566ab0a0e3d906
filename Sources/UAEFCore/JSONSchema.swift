import Foundation

/// Checks a value against a JSON Schema (draft 2020-12), the subset model answers and tool
/// inputs use: `type` (one or a list), `enum`, `const`, `properties`, `required`,
/// `additionalProperties` (false or a schema), `items`, `minItems`, `maxItems`, `minLength`,
/// `maxLength`, `pattern`, `minimum`, `maximum`, `anyOf` and `allOf`. Other keywords are
/// ignored, as the specification lets a validator do with unknown ones.
public struct JSONSchema: Sendable, Hashable {
    public let schema: JSONValue

    /// The deepest nesting checked; deeper values are a problem rather than a stack overflow.
    static let maximumDepth = 64

    public init(_ schema: JSONValue) { self.schema = schema }

    /// The schema in a few words for people filling in a value: `integer 1 to 5`,
    /// `string matching ^[a-z]+$`, `array of string`, `string one of "a", "b"`.
    public var summary: String {
        var parts = [schema["type"].map { $0.stringValue ?? $0.jsonText } ?? "any value"]
        if let items = schema["items"]?["type"]?.stringValue { parts.append("of \(items)") }
        switch (schema["minimum"], schema["maximum"]) {
        case (let low?, let high?): parts.append("\(low.jsonText) to \(high.jsonText)")
        case (let low?, nil): parts.append("at least \(low.jsonText)")
        case (nil, let high?): parts.append("at most \(high.jsonText)")
        default: break
        }
        if let pattern = schema["pattern"]?.stringValue { parts.append("matching \(pattern)") }
        if let options = schema["enum"]?.arrayValue {
            parts.append("one of \(options.map(\.jsonText).joined(separator: ", "))")
        }
        return parts.joined(separator: " ")
    }

    /// Why `schema` cannot be used, or nil.
    public static func problem(in schema: JSONValue) -> String? {
        guard schema.objectValue != nil else { return "a JSON Schema must be an object" }
        return nil
    }

    /// Every way `value` fails the schema, each as `path: what was expected`; empty when it passes.
    public func violations(of value: JSONValue, limit: Int = 20) -> [String] {
        var pass = Pass(limit: limit, deadline: Date().addingTimeInterval(Self.patternTime))
        check(value, against: schema, path: "$", depth: 0, into: &pass)
        return pass.found
    }

    /// How long one check may spend matching `pattern`s, in all: a regular expression can take
    /// exponential time on a crafted text (`(a+)+b`), and the schema and the text may both come
    /// from a tenant or a model, so a match still running then is abandoned and reported.
    static let patternTime: TimeInterval = 0.25
    /// The longest `pattern` accepted.
    static let maximumPatternLength = 1000

    /// The pattern with each `$` outside a character class written `\z`: in a JSON Schema
    /// (ECMA-262) `$` matches only at the end of the text, where ICU's also matches before a final
    /// line break, so `^[a-z]+$` would take `"finance\n"`.
    static func endAnchored(_ pattern: String) -> String {
        var result = ""
        var inClass = false
        var escaped = false
        for character in pattern {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if inClass {
                inClass = character != "]"
            } else if character == "[" {
                inClass = true
            } else if character == "$" {
                result += "\\z"
                continue
            }
            result.append(character)
        }
        return result
    }

    /// One check's findings and what it may still spend.
    private struct Pass {
        var found: [String] = []
        let limit: Int
        let deadline: Date
        var expressions: [String: NSRegularExpression?] = [:]

        init(limit: Int, deadline: Date) {
            self.limit = limit
            self.deadline = deadline
        }

        /// The compiled pattern, nil when it is not a regular expression this validator takes.
        mutating func expression(_ pattern: String) -> NSRegularExpression? {
            if let known = expressions[pattern] { return known }
            let compiled =
                pattern.count <= JSONSchema.maximumPatternLength
                ? try? NSRegularExpression(pattern: JSONSchema.endAnchored(pattern)) : nil
            expressions[pattern] = compiled
            return compiled
        }

        /// Whether `text` has a match of `expression`; nil when the time ran out first.
        func matches(_ expression: NSRegularExpression, _ text: String) -> Bool? {
            let deadline = self.deadline
            guard Date() < deadline else { return nil }
            var outcome: Bool? = false
            expression.enumerateMatches(
                in: text, options: [.reportProgress], range: NSRange(text.startIndex..., in: text)
            ) { match, _, stop in
                if match != nil {
                    outcome = true
                    stop.pointee = true
                } else if Date() >= deadline {
                    outcome = nil
                    stop.pointee = true
                }
            }
            return outcome
        }
    }

    private func check(
        _ value: JSONValue, against schema: JSONValue, path: String, depth: Int, into pass: inout Pass
    ) {
        guard pass.found.count < pass.limit else { return }
        guard depth < Self.maximumDepth else {
            pass.found.append("\(path): nested deeper than \(Self.maximumDepth) levels")
            return
        }
        if schema == .bool(false) { pass.found.append("\(path): no value is allowed here") }
        guard let rules = schema.objectValue else { return }
        if let type = rules["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            if !names.isEmpty, !names.contains(where: { Self.matches(value, type: $0) }) {
                pass.found.append("\(path): expected \(names.joined(separator: " or ")), got \(Self.typeName(value))")
                return
            }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(value) {
            pass.found.append("\(path): expected one of \(options.map(\.jsonText).joined(separator: ", "))")
        }
        if let constant = rules["const"], constant != value {
            pass.found.append("\(path): expected \(constant.jsonText)")
        }
        switch value {
        case .object(let members):
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                pass.found.append("\(path): \(name) is required")
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let memberPath = "\(path).\(name)"
                if let property = properties[name] {
                    check(member, against: property, path: memberPath, depth: depth + 1, into: &pass)
                } else if let additional = rules["additionalProperties"] {
                    if additional == .bool(false) {
                        pass.found.append("\(memberPath): not allowed (the schema lists the properties allowed)")
                    } else {
                        check(
                            member, against: additional, path: memberPath, depth: depth + 1, into: &pass)
                    }
                }
            }
        case .array(let elements):
            if let minimum = rules["minItems"]?.numberValue?.intValue, elements.count < minimum {
                pass.found.append("\(path): expected at least \(minimum) items, got \(elements.count)")
            }
            if let maximum = rules["maxItems"]?.numberValue?.intValue, elements.count > maximum {
                pass.found.append("\(path): expected at most \(maximum) items, got \(elements.count)")
            }
            if let items = rules["items"] {
                for (index, element) in elements.enumerated() {
                    check(
                        element, against: items, path: "\(path)[\(index)]", depth: depth + 1, into: &pass
                    )
                }
            }
        case .string(let text):
            let length = text.count
            if let minimum = rules["minLength"]?.numberValue?.intValue, length < minimum {
                pass.found.append("\(path): expected at least \(minimum) characters")
            }
            if let maximum = rules["maxLength"]?.numberValue?.intValue, length > maximum {
                pass.found.append("\(path): expected at most \(maximum) characters")
            }
            if let pattern = rules["pattern"]?.stringValue {
                if let expression = pass.expression(pattern) {
                    switch pass.matches(expression, text) {
                    case true?: break
                    case false?: pass.found.append("\(path): expected text matching \(pattern)")
                    case nil:
                        pass.found.append(
                            "\(path): could not be checked against \(pattern.prefix(100)) in time (\(Int(Self.patternTime * 1000)) ms for all patterns); simplify the pattern"
                        )
                    }
                } else {
                    pass.found.append(
                        "\(path): the schema's pattern is not a regular expression of at most \(Self.maximumPatternLength) characters"
                    )
                }
            }
        case .number(let number):
            if let minimum = rules["minimum"]?.numberValue, number < minimum {
                pass.found.append("\(path): expected at least \(minimum)")
            }
            if let maximum = rules["maximum"]?.numberValue, number > maximum {
                pass.found.append("\(path): expected at most \(maximum)")
            }
        default: break
        }
        for part in rules["allOf"]?.arrayValue ?? [] {
            check(value, against: part, path: path, depth: depth + 1, into: &pass)
        }
        if let options = rules["anyOf"]?.arrayValue, !options.isEmpty {
            let passes = options.contains { option in
                // A trial pass on the same clock: an anyOf cannot multiply the time patterns take.
                var trial = Pass(limit: 1, deadline: pass.deadline)
                check(value, against: option, path: path, depth: depth + 1, into: &trial)
                return trial.found.isEmpty
            }
            if !passes { pass.found.append("\(path): matches none of the anyOf schemas") }
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
            ("number", .number):
            true
        case ("integer", .number(let number)): number.isWhole
        default: false
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number(let number): number.isWhole ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
