import Foundation
import MCP
import UAEFCore

/// Conversions between the MCP SDK's `Value` and UAEF's ``JSONValue``, through JSON text so that
/// what enters meets the same parser and limits as an API request body.
public enum MCPValues {
    /// Values that cannot be taken in.
    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    /// An object of values (a tool call's arguments, a structured result) as JSON values.
    public static func object(_ members: [String: Value]?) throws(Unreadable) -> [String: JSONValue] {
        guard let members else { return [:] }
        return try json(.object(members)).objectValue ?? [:]
    }

    /// A value as a JSON value.
    public static func json(_ value: Value) throws(Unreadable) -> JSONValue {
        let parsed: JSONValue
        do {
            parsed = try JSONValue(jsonData: try JSONEncoder().encode(value))
        } catch {
            throw Unreadable(description: "the value is not JSON: \(error)")
        }
        if let violation = ValueLimits.check(parsed) { throw Unreadable(description: violation.description) }
        return parsed
    }

    /// `value` as the SDK's `Value` (numbers become integers or doubles).
    public static func value(_ value: JSONValue) -> Value { self.value(jsonText: value.jsonText) }

    /// A value's JSON text (``JSONValue/jsonText``) as the SDK's `Value`.
    public static func value(jsonText: String) -> Value {
        (try? JSONDecoder().decode(Value.self, from: Data(jsonText.utf8))) ?? .null
    }
}
