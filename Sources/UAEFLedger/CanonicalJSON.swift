import Foundation
import UAEFCore

/// RFC 8785 JSON Canonicalization Scheme (JCS) for ``JSONValue``: the bytes a ledger leaf hashes.
///
/// Object members are sorted by their keys' UTF-16 code units, strings use the minimal escapes,
/// and numbers print as ECMAScript prints the IEEE-754 double. UAEF numbers are exact decimals:
/// one that a double holds exactly enough to print back as the same decimal is written as a
/// JSON number; any other (more than ~15–17 significant digits) is written as a JSON string of
/// its decimal text, so the canonical form never changes a value.
public enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var output: [UInt8] = []
        write(value, to: &output)
        return output
    }

    /// The canonical text of `value`.
    public static func text(_ value: JSONValue) -> String { String(decoding: bytes(value), as: UTF8.self) }

    /// Appends the canonical bytes of `value` to `output`.
    public static func write(_ value: JSONValue, to output: inout [UInt8]) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number):
            if let text = ecmaScriptText(number) {
                output.append(contentsOf: text.utf8)
            } else {
                writeString(number.description, to: &output)
            }
        case .string(let string): writeString(string, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                write(element, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members): writeObject(Array(members), to: &output)
        }
    }

    /// Appends the canonical bytes of an object with these members (keys distinct), sorting them:
    /// lets a caller add members without building a dictionary.
    public static func writeObject(_ members: [(key: String, value: JSONValue)], to output: inout [UInt8]) {
        output.append(UInt8(ascii: "{"))
        // ASCII keys sort the same by bytes as by UTF-16 code units, and much faster.
        let sorted =
            members.allSatisfy { $0.key.utf8.allSatisfy { $0 < 0x80 } }
            ? members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            : members.sorted { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
        for (offset, member) in sorted.enumerated() {
            if offset > 0 { output.append(UInt8(ascii: ",")) }
            writeString(member.key, to: &output)
            output.append(UInt8(ascii: ":"))
            write(member.value, to: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// Appends `string` as a canonical JSON string.
    public static func writeString(_ string: String, to output: inout some CanonicalOutput) {
        JSONString.write(string, to: &output)
    }

    /// Appends UTF-8 text as a canonical JSON string: runs that need no escape are copied whole.
    @inlinable
    public static func writeString(utf8 text: UnsafeRawBufferPointer, to output: inout some CanonicalOutput) {
        JSONString.write(utf8: text, to: &output)
    }

    /// The ECMAScript `Number.prototype.toString` text of the double nearest `number`, or nil
    /// when that double does not print back as exactly `number`.
    static func ecmaScriptText(_ number: Number) -> String? {
        if let integer = number.smallInteger { return String(integer) }
        let decimal = number.description
        // Integers of up to 15 digits are exact doubles and print as themselves.
        let unsigned = decimal.utf8.drop { $0 == UInt8(ascii: "-") }
        if unsigned.count <= 15, unsigned.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return decimal == "-0" ? "0" : decimal
        }
        guard let double = Double(decimal), double.isFinite else { return nil }
        if double == 0 { return "0" }
        // Swift prints the shortest digits that round-trip; take them apart as digits and exponent.
        let (digits, exponent) = shortestDigits(double.magnitude)
        let text = (double < 0 ? "-" : "") + format(digits: digits, exponent: exponent)
        // Keep the number only when the double prints back as the same decimal value.
        guard let back = Number(parsing: text), back == number else { return nil }
        return text
    }

    /// Digits without leading or trailing zeros, and n such that the value is 0.digits × 10^n.
    private static func shortestDigits(_ value: Double) -> (String, Int) {
        let text = "\(value)"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integer = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integer + fraction
        var point = integer.count + exponent
        while digits.hasPrefix("0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.hasSuffix("0") { digits.removeLast() }
        return (digits, point)
    }

    /// ECMA-262 Number::toString from digits s (k of them) and n, where the value is s × 10^(n−k).
    private static func format(digits s: String, exponent n: Int) -> String {
        let k = s.count
        if k <= n && n <= 21 { return s + String(repeating: "0", count: n - k) }
        if 0 < n && n <= 21 { return String(s.prefix(n)) + "." + String(s.dropFirst(n)) }
        if -6 < n && n <= 0 { return "0." + String(repeating: "0", count: -n) + s }
        let e = n - 1
        let sign = e < 0 ? "-" : "+"
        let mantissa = k == 1 ? s : String(s.prefix(1)) + "." + String(s.dropFirst())
        return mantissa + "e" + sign + String(abs(e))
    }
}

/// Where canonical bytes go: a byte array, or a hasher that takes them as they come
/// (``LeafHasher``), so a leaf is hashed without its bytes being gathered first.
public typealias CanonicalOutput = JSONByteOutput
