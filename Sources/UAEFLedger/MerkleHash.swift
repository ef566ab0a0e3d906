import Crypto
import Foundation

/// A SHA-256 digest: a leaf, a node or a tree root of the RFC 6962 / RFC 9162 Merkle tree.
///
/// The 32 bytes are held inline (no heap allocation), since the ledger makes one or two of these
/// per event appended or verified. Four words rather than a SIMD vector: async task frames do not
/// honour a 32-byte alignment.
public struct MerkleHash: Sendable, Hashable, CustomStringConvertible {
    private var storage: (UInt64, UInt64, UInt64, UInt64)

    /// The 32 bytes.
    public var bytes: [UInt8] { Swift.withUnsafeBytes(of: storage) { Array($0) } }

    /// Calls `body` with the 32 bytes, without copying them.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: storage, body)
    }

    /// Wraps 32 bytes; nil for any other length (RFC 9162 proofs are rejected when a hash is not 32 bytes).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        storage = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &storage) { raw in raw.copyBytes(from: bytes) }
    }

    /// Wraps 32 bytes read straight from a buffer; nil for any other length.
    public init?(bytes raw: UnsafeRawBufferPointer) {
        guard raw.count == 32 else { return nil }
        storage = raw.loadUnaligned(as: (UInt64, UInt64, UInt64, UInt64).self)
    }

    public static func == (left: MerkleHash, right: MerkleHash) -> Bool {
        left.storage.0 == right.storage.0 && left.storage.1 == right.storage.1 && left.storage.2 == right.storage.2
            && left.storage.3 == right.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0)
        hasher.combine(storage.1)
        hasher.combine(storage.2)
        hasher.combine(storage.3)
    }

    /// The root of the empty tree: SHA-256 of no bytes.
    public static let empty = MerkleHash(bytes: Array(SHA256.hash(data: [UInt8]())))!

    /// The hash of a leaf: SHA-256(0x00 ‖ data).
    public static func leaf(_ data: [UInt8]) -> MerkleHash {
        var hasher = LeafHasher()
        data.withUnsafeBytes { hasher.write($0) }
        return hasher.finalize()
    }

    /// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
    public static func node(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        var hasher = LedgerHasher()
        hasher.update(byte: 0x01)
        left.withUnsafeBytes { hasher.update($0) }
        right.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    /// Lower-case hex.
    public var hex: String { withUnsafeBytes { ContentDigest.hex($0) } }

    /// Standard base64, as checkpoints and proofs carry hashes.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// Parses hex text of 32 bytes.
    public init?(hex text: String) {
        let scalars = Array(text.utf8)
        guard scalars.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = Self.nibble(scalars[index]), let low = Self.nibble(scalars[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(bytes: bytes)
    }

    /// Parses standard base64 of 32 bytes.
    public init?(base64 text: String) {
        guard let data = Data(base64Encoded: text) else { return nil }
        self.init(bytes: data)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case 0x30...0x39: character - 0x30
        case 0x61...0x66: character - 0x61 + 10
        case 0x41...0x46: character - 0x41 + 10
        default: nil
        }
    }

    public var description: String { hex }
}

/// Plain SHA-256 digests of content, as reports name payloads by.
public enum ContentDigest {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        appendSHA256Hex(of: bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends the lower-case hex SHA-256 of `bytes` to `output`, making no string.
    public static func appendSHA256Hex(of bytes: [UInt8], to output: inout [UInt8]) {
        bytes.withUnsafeBytes { appendSHA256Hex(of: $0, to: &output) }
    }

    /// Appends the lower-case hex SHA-256 of the bytes in a buffer to `output`.
    public static func appendSHA256Hex(of bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        // The digest's own bytes, not its Sequence conformance: verification does this per event.
        var hasher = LedgerHasher()
        hasher.update(bytes)
        hasher.finalize().withUnsafeBytes { appendHex($0, to: &output) }
    }

    /// Lower-case hex of 32 bytes.
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var text: [UInt8] = []
        appendHex(bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    private static func appendHex(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        // Written into a buffer on the stack and appended at once: one capacity check, not 64.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count * 2) { text in
            digits.withUTF8Buffer { digits in
                for (offset, byte) in bytes.enumerated() {
                    text[2 * offset] = digits[Int(byte >> 4)]
                    text[2 * offset + 1] = digits[Int(byte & 0x0F)]
                }
            }
            output.append(contentsOf: text)
        }
    }
}
