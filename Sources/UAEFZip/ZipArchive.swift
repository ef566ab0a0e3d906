import CUAEFZlib
import Foundation

/// ZIP archives (PKWARE APPNOTE 6.3.10): written with their entries stored (what an ERP's
/// file-based import takes, Oracle's FBDI zips) or deflated the way Java's `ZipOutputStream`
/// streams them (sizes in a data descriptor after each entry, as Oracle's ESS logs come); read
/// with stored or deflated entries, within a limit on what they inflate to.
public enum ZipArchive {
    /// One file of an archive.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var data: [UInt8]

        public init(name: String, data: [UInt8]) {
            self.name = name
            self.data = data
        }
    }

    /// How entries are written.
    public enum Compression: Sendable {
        /// Method 0, sizes and CRC-32 in the local header.
        case stored
        /// Method 8 (DEFLATE), streamed: general purpose flag 3 set, the local header's CRC-32
        /// and sizes zero, a data descriptor (with its signature) after the data.
        case deflatedStreamed
    }

    /// The archive of `entries`, each with its CRC-32, dated 1980-01-01 (the format's earliest
    /// time, so the same entries make the same bytes).
    public static func archive(_ entries: [Entry], compression: Compression = .stored) -> [UInt8] {
        var output: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let name = Array(entry.name.utf8)
            let crc = crc32(entry.data)
            let offset = UInt32(output.count)
            let size = UInt32(entry.data.count)
            let (flags, method, data): (UInt16, UInt16, [UInt8]) =
                switch compression {
                case .stored: (0x0800, 0, entry.data)
                case .deflatedStreamed: (0x0808, 8, deflate(entry.data))
                }
            let packed = UInt32(data.count)
            // Local file header.
            output += le32(0x0403_4b50) + le16(20) + le16(flags) + le16(method) + le16(0) + le16(0x21)
            output += compression == .stored ? le32(crc) + le32(packed) + le32(size) : le32(0) + le32(0) + le32(0)
            output += le16(UInt16(name.count)) + le16(0) + name + data
            if compression == .deflatedStreamed { output += le32(0x0807_4b50) + le32(crc) + le32(packed) + le32(size) }
            // Central directory header.
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(flags) + le16(method) + le16(0) + le16(0x21)
            central += le32(crc) + le32(packed) + le32(size)
            central += le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let centralOffset = UInt32(output.count)
        output += central
        output += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(entries.count)) + le16(UInt16(entries.count))
        output += le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return output
    }

    /// Why an archive could not be read.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The entries of `bytes`, read through its central directory, stored or deflated. Other
    /// methods, bad checksums, truncated archives and entries that together inflate to more than
    /// `limit` bytes are failures.
    public static func entries(of bytes: [UInt8], limit: Int = 64 << 20) throws(Failure) -> [Entry] {
        guard bytes.count >= 22 else { throw Failure(description: "not a zip archive: \(bytes.count) bytes") }
        var end = bytes.count - 22
        while end >= 0, read32(bytes, end) != 0x0605_4b50 { end -= 1 }
        guard end >= 0 else { throw Failure(description: "not a zip archive: no end of central directory") }
        let count = Int(read16(bytes, end + 10))
        var position = Int(read32(bytes, end + 16))
        var entries: [Entry] = []
        var inflated = 0
        for _ in 0..<count {
            guard position + 46 <= bytes.count, read32(bytes, position) == 0x0201_4b50 else {
                throw Failure(description: "the central directory is damaged")
            }
            let method = read16(bytes, position + 10)
            let crc = read32(bytes, position + 16)
            let packed = Int(read32(bytes, position + 20))
            let size = Int(read32(bytes, position + 24))
            let nameLength = Int(read16(bytes, position + 28))
            let extraLength = Int(read16(bytes, position + 30))
            let commentLength = Int(read16(bytes, position + 32))
            let local = Int(read32(bytes, position + 42))
            guard position + 46 + nameLength <= bytes.count else { throw Failure(description: "a name is cut off") }
            let name = String(decoding: bytes[(position + 46)..<(position + 46 + nameLength)], as: UTF8.self)
            guard method == 0 || method == 8 else {
                throw Failure(
                    description: "\(name) is compressed with method \(method); stored (0) and deflated (8) are read")
            }
            inflated += size
            guard inflated <= limit else {
                throw Failure(description: "\(name) makes the archive's entries larger than \(limit) bytes")
            }
            guard local + 30 <= bytes.count, read32(bytes, local) == 0x0403_4b50 else {
                throw Failure(description: "the local header of \(name) is missing")
            }
            let start = local + 30 + Int(read16(bytes, local + 26)) + Int(read16(bytes, local + 28))
            guard start + packed <= bytes.count else { throw Failure(description: "\(name) is cut off") }
            let stored = Array(bytes[start..<(start + packed)])
            let data = method == 0 ? stored : try inflate(stored, size: size, name: name)
            guard data.count == size else { throw Failure(description: "\(name) is not the size its header gives") }
            guard crc32(data) == crc else { throw Failure(description: "\(name) fails its CRC-32") }
            entries.append(Entry(name: name, data: data))
            position += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// The raw DEFLATE stream `packed` inflated to exactly `size` bytes.
    private static func inflate(_ packed: [UInt8], size: Int, name: String) throws(Failure) -> [UInt8] {
        // One byte more than announced, to tell a stream that inflates to more.
        var output = [UInt8](repeating: 0, count: size + 1)
        let written = packed.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                uaef_inflate_raw(input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
        guard written >= 0 else {
            throw Failure(
                description: written == -2
                    ? "\(name) inflates to more than its header's \(size) bytes"
                    : "\(name) is not a complete DEFLATE stream")
        }
        return Array(output.prefix(written))
    }

    /// `data` as a raw DEFLATE stream.
    private static func deflate(_ data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: uaef_deflate_bound(data.count))
        let written = data.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                uaef_deflate_raw(input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
        precondition(written >= 0, "deflate into deflateBound bytes cannot run out of room")
        return Array(output.prefix(written))
    }

    /// CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), as ZIP uses.
    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    private static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    private static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
    private static func read16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    private static func read32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
    }
}
