/// Why JSON text could not be parsed; `offset` is the byte offset where parsing stopped.
public struct JSONTextError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset into the text.
    public let offset: Int
    /// What was wrong there.
    public let reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A strict RFC 8259 parser producing ``JSONValue`` with exact numbers and bounded nesting.
struct JSONTextParser {
    static let maximumDepth = 256

    private let text: [UInt8]
    private var position = 0
    private var depth = 0

    init(text: [UInt8]) { self.text = text }

    mutating func parseDocument() throws(JSONTextError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard position == text.count else { throw error("unexpected text after the value") }
        return value
    }

    private func error(_ reason: String) -> JSONTextError { JSONTextError(offset: position, reason: reason) }

    private var current: UInt8? { position < text.count ? text[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ literal: String, value: JSONValue) throws(JSONTextError) -> JSONValue {
        let bytes = Array(literal.utf8)
        guard position + bytes.count <= text.count, Array(text[position..<position + bytes.count]) == bytes else {
            throw error("expected \(literal)")
        }
        position += bytes.count
        return value
    }

    private mutating func parseValue() throws(JSONTextError) -> JSONValue {
        guard let byte = current else { throw error("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func enter() throws(JSONTextError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        position += 1
        skipWhitespace()
    }

    private mutating func parseArray() throws(JSONTextError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var elements: [JSONValue] = []
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default: throw error("expected , or ] in a list")
            }
        }
    }

    private mutating func parseObject() throws(JSONTextError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var members: [String: JSONValue] = [:]
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a quoted member name") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected : after a member name") }
            position += 1
            skipWhitespace()
            members[key] = try parseValue()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            default: throw error("expected , or } in an object")
            }
        }
    }

    private mutating func parseNumber() throws(JSONTextError) -> JSONValue {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        guard isDigit(current) else { throw error("expected a digit") }
        if current == UInt8(ascii: "0") {
            position += 1
        } else {
            while isDigit(current) { position += 1 }
        }
        // Most numbers are small integers: made from their digits, without the decimal parser
        // (the same value and the same `smallInteger` as `Number(parsing:)` gives; not -0).
        let integerEnd = position
        let negative = text[start] == UInt8(ascii: "-")
        let digits = integerEnd - start - (negative ? 1 : 0)
        if digits <= 15, current != UInt8(ascii: "."), current != UInt8(ascii: "e"), current != UInt8(ascii: "E") {
            var value = 0
            for byte in text[(negative ? start + 1 : start)..<integerEnd] { value = value * 10 + Int(byte - 0x30) }
            if !(negative && value == 0) { return .number(Number(negative ? -value : value)) }
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard isDigit(current) else { throw error("expected a digit after the decimal point") }
            while isDigit(current) { position += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard isDigit(current) else { throw error("expected a digit in the exponent") }
            while isDigit(current) { position += 1 }
        }
        let literal = String(decoding: text[start..<position], as: UTF8.self)
        guard let number = Number(parsing: literal) else {
            throw JSONTextError(offset: start, reason: "number \(literal) is out of range")
        }
        return .number(number)
    }

    private mutating func parseString() throws(JSONTextError) -> String {
        position += 1
        var bytes: [UInt8] = []
        while true {
            guard let byte = current else { throw error("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: bytes, as: UTF8.self) else {
                    throw error("string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                try parseEscape(into: &bytes)
            case 0..<0x20:
                throw error("control character in a string")
            default:
                bytes.append(byte)
            }
        }
    }

    private mutating func parseEscape(into bytes: inout [UInt8]) throws(JSONTextError) {
        guard let escaped = current else { throw error("unterminated escape") }
        position += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escaped)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var scalarValue = try parseHex4()
            if (0xD800..<0xDC00).contains(scalarValue) {
                guard current == UInt8(ascii: "\\"), position + 1 < text.count, text[position + 1] == UInt8(ascii: "u")
                else {
                    throw error("unpaired surrogate")
                }
                position += 2
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(scalarValue) else { throw error("invalid unicode escape") }
            bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            throw error("invalid escape")
        }
    }

    private mutating func parseHex4() throws(JSONTextError) -> UInt32 {
        guard position + 4 <= text.count,
            let value = UInt32(String(decoding: text[position..<position + 4], as: UTF8.self), radix: 16)
        else { throw error("expected four hex digits") }
        position += 4
        return value
    }
}
