import CUAEFSHA256
import Crypto

/// SHA-256 for the ledger's public bytes (events, payloads, tree nodes), of which it hashes
/// three or more per event appended or verified.
///
/// On a CPU with the x86-64 SHA extensions it runs them directly with its state on the stack;
/// swift-crypto's general API allocates and zeroes a context per hash, which cost the ledger
/// more than the hashing itself. Elsewhere it is swift-crypto's SHA-256.
struct LedgerHasher {
    /// Whether this process hashes on the SHA extensions.
    static let hardwareAvailable = uaef_sha256_hardware_available()

    private var context = uaef_sha256_context()
    private var portable: SHA256?

    /// A hasher on the SHA extensions when `hardware` (and they exist), else on swift-crypto.
    init(hardware: Bool = Self.hardwareAvailable) {
        if hardware && Self.hardwareAvailable {
            uaef_sha256_init(&context)
        } else {
            portable = SHA256()
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if portable != nil {
            portable?.update(bufferPointer: bytes)
        } else {
            uaef_sha256_update(&context, bytes.baseAddress, bytes.count)
        }
    }

    mutating func update(byte: UInt8) {
        Swift.withUnsafeBytes(of: byte) { update($0) }
    }

    /// The digest; the hasher is spent.
    mutating func finalize() -> MerkleHash {
        if let portable {
            return portable.finalize().withUnsafeBytes { MerkleHash(bytes: $0)! }
        }
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &digest) {
            uaef_sha256_final(&context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return Swift.withUnsafeBytes(of: digest) { MerkleHash(bytes: $0)! }
    }
}

/// Hashes a Merkle leaf, SHA-256(0x00 ‖ bytes), from bytes written to it piece by piece: a
/// verifier streams an event's canonical bytes straight from the stored columns into it.
public struct LeafHasher: CanonicalOutput {
    private var hasher = LedgerHasher()

    public init() { hasher.update(byte: 0x00) }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }

    public mutating func write(byte: UInt8) { hasher.update(byte: byte) }

    /// The leaf hash; the hasher is spent.
    public mutating func finalize() -> MerkleHash { hasher.finalize() }
}
