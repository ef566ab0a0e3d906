import Foundation

/// The fields of an HTML form as browsers post it (`application/x-www-form-urlencoded`).
public struct ConsoleForm: Sendable, Hashable {
    /// Why a body is not a form this console accepts.
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// The most fields a console form has; more is refused.
    public static let fieldLimit = 16

    public let fields: [String: String]

    /// Reads `body`; refuses more than ``fieldLimit`` fields, a field given twice, and bad
    /// percent-encoding, naming the field.
    public init(body: String) throws(Malformed) {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), !name.isEmpty else {
                throw Malformed(description: "a form field's name is not percent-encoded text")
            }
            guard let value = Self.decode(parts.count == 2 ? parts[1] : "") else {
                throw Malformed(description: "form field \(name.prefix(40)): the value is not percent-encoded UTF-8")
            }
            guard fields.updateValue(value, forKey: name) == nil else {
                throw Malformed(description: "form field \(name.prefix(40)) is given more than once")
            }
            guard fields.count <= Self.fieldLimit else {
                throw Malformed(description: "the form has more than \(Self.fieldLimit) fields")
            }
        }
        self.fields = fields
    }

    /// The field's value with surrounding whitespace trimmed; nil when absent or blank.
    public subscript(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
