import Foundation
import UAEFCore

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

    /// Why `schema` cannot be used, or nil.
    public static func problem(in schema: JSONValue) -> String? {
        guard schema.objectValue != nil else { return "a JSON Schema must be an object" }
        return nil
    }

    /// Every way `value` fails the schema, each as `path: what was expected`; empty when it passes.
    public func violations(of value: JSONValue, limit: Int = 20) -> [String] {
        var found: [String] = []
        check(value, against: schema, path: "$", depth: 0, into: &found, limit: limit)
        return found
    }

    private func check(
        _ value: JSONValue, against schema: JSONValue, path: String, depth: Int, into found: inout [String], limit: Int
    ) {
        guard found.count < limit else { return }
        guard depth < Self.maximumDepth else {
            found.append("\(path): nested deeper than \(Self.maximumDepth) levels")
            return
        }
        if schema == .bool(false) { found.append("\(path): no value is allowed here") }
        guard let rules = schema.objectValue else { return }
        if let type = rules["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            if !names.isEmpty, !names.contains(where: { Self.matches(value, type: $0) }) {
                found.append("\(path): expected \(names.joined(separator: " or ")), got \(Self.typeName(value))")
                return
            }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(value) {
            found.append("\(path): expected one of \(options.map(\.jsonText).joined(separator: ", "))")
        }
        if let constant = rules["const"], constant != value { found.append("\(path): expected \(constant.jsonText)") }
        switch value {
        case .object(let members):
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                found.append("\(path): \(name) is required")
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let memberPath = "\(path).\(name)"
                if let property = properties[name] {
                    check(member, against: property, path: memberPath, depth: depth + 1, into: &found, limit: limit)
                } else if let additional = rules["additionalProperties"] {
                    if additional == .bool(false) {
                        found.append("\(memberPath): not allowed (the schema lists the properties allowed)")
                    } else {
                        check(
                            member, against: additional, path: memberPath, depth: depth + 1, into: &found, limit: limit)
                    }
                }
            }
        case .array(let elements):
            if let minimum = rules["minItems"]?.numberValue?.intValue, elements.count < minimum {
                found.append("\(path): expected at least \(minimum) items, got \(elements.count)")
            }
            if let maximum = rules["maxItems"]?.numberValue?.intValue, elements.count > maximum {
                found.append("\(path): expected at most \(maximum) items, got \(elements.count)")
            }
            if let items = rules["items"] {
                for (index, element) in elements.enumerated() {
                    check(
                        element, against: items, path: "\(path)[\(index)]", depth: depth + 1, into: &found, limit: limit
                    )
                }
            }
        case .string(let text):
            let length = text.count
            if let minimum = rules["minLength"]?.numberValue?.intValue, length < minimum {
                found.append("\(path): expected at least \(minimum) characters")
            }
            if let maximum = rules["maxLength"]?.numberValue?.intValue, length > maximum {
                found.append("\(path): expected at most \(maximum) characters")
            }
            if let pattern = rules["pattern"]?.stringValue,
                let expression = try? NSRegularExpression(pattern: pattern),
                expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                found.append("\(path): expected text matching \(pattern)")
            }
        case .number(let number):
            if let minimum = rules["minimum"]?.numberValue, number < minimum {
                found.append("\(path): expected at least \(minimum)")
            }
            if let maximum = rules["maximum"]?.numberValue, number > maximum {
                found.append("\(path): expected at most \(maximum)")
            }
        default: break
        }
        for part in rules["allOf"]?.arrayValue ?? [] {
            check(value, against: part, path: path, depth: depth + 1, into: &found, limit: limit)
        }
        if let options = rules["anyOf"]?.arrayValue, !options.isEmpty {
            let passes = options.contains { option in
                var trial: [String] = []
                check(value, against: option, path: path, depth: depth + 1, into: &trial, limit: 1)
                return trial.isEmpty
            }
            if !passes { found.append("\(path): matches none of the anyOf schemas") }
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
