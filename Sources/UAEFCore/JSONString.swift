/// Where JSON bytes go: a byte array, or a consumer that takes them as they come (the ledger's
/// leaf hasher), so text is written without being gathered first.
public protocol JSONByteOutput {
    mutating func write(_ bytes: UnsafeRawBufferPointer)
    mutating func write(byte: UInt8)
}

extension Array: JSONByteOutput where Element == UInt8 {
    @inlinable
    public mutating func write(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }

    @inlinable
    public mutating func write(byte: UInt8) { append(byte) }
}

/// JSON strings with the minimal escapes (the quote, the backslash, the control characters; the
/// two-character forms where JSON has one, else `\u00xx`): what both ``JSONValue/jsonText`` and
/// RFC 8785's canonical form write.
public enum JSONString {
    /// Appends `string` as a JSON string.
    public static func write(_ string: String, to output: inout some JSONByteOutput) {
        var string = string
        string.withUTF8 { write(utf8: UnsafeRawBufferPointer($0), to: &output) }
    }

    /// Appends UTF-8 text as a JSON string: runs that need no escape are copied whole.
    @inlinable
    public static func write(utf8 text: UnsafeRawBufferPointer, to output: inout some JSONByteOutput) {
        let quote = UInt8(ascii: "\"")
        let backslash = UInt8(ascii: "\\")
        output.write(byte: quote)
        var runStart = 0
        var offset = 0
        while offset < text.count {
            // Eight bytes at a time while none needs an escape, as in nearly all text.
            if offset + 8 <= text.count, !mayNeedEscape(text.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) {
                offset += 8
                continue
            }
            let byte = text[offset]
            guard byte < 0x20 || byte == quote || byte == backslash else {
                offset += 1
                continue
            }
            output.write(UnsafeRawBufferPointer(rebasing: text[runStart..<offset]))
            writeEscape(of: byte, to: &output)
            offset += 1
            runStart = offset
        }
        output.write(UnsafeRawBufferPointer(rebasing: text[runStart...]))
        output.write(byte: quote)
    }

    /// The escape of a byte below 0x20, a quote or a backslash: the two-character escapes, else `\u00xx`.
    @usableFromInline
    static func writeEscape(of byte: UInt8, to output: inout some JSONByteOutput) {
        output.write(byte: UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.write(byte: byte)
        case 0x08: output.write(byte: UInt8(ascii: "b"))
        case 0x09: output.write(byte: UInt8(ascii: "t"))
        case 0x0A: output.write(byte: UInt8(ascii: "n"))
        case 0x0C: output.write(byte: UInt8(ascii: "f"))
        case 0x0D: output.write(byte: UInt8(ascii: "r"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            for character in [
                UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)],
            ] {
                output.write(byte: character)
            }
        }
    }

    /// Whether any of eight bytes is below 0x20, a quote or a backslash (exact, by the
    /// word-at-a-time "has zero byte" and "has byte less than" tests).
    @inlinable @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highBits != 0 }
        let control = (word &- ones &* 0x20) & ~word & highBits != 0
        return control || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }
}
