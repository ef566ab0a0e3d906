import Foundation
import UAEFCore
import UAEFLedger

/// What the trust ledger needs from a store: the tree the events form, its heads, and the
/// signed checkpoints. Every backend keeps these in the same transactions as the events.
public protocol LedgerStore: Sendable {
    /// The newest tree head: the number of events and the root over them.
    func treeHead() async throws -> (size: Int, root: MerkleHash)

    /// Every stored tree head, oldest first.
    func treeHeads() async throws -> [(size: Int, root: MerkleHash)]

    /// The root of the first `size` events, from O(log n) stored subtrees.
    func root(size: Int) async throws -> MerkleHash

    /// The inclusion proof of event `index` in the tree of `size` events; nil when out of range.
    func inclusionProof(index: Int, size: Int) async throws -> [MerkleHash]?

    /// The consistency proof between the trees of `oldSize` and `newSize` events; nil when invalid.
    func consistencyProof(from oldSize: Int, to newSize: Int) async throws -> [MerkleHash]?

    /// Events from `seq` on with the leaf hash stored for each, for verification and export.
    func ledgerEvents(from seq: Int64, limit: Int) async throws -> [(record: EventRecord, storedLeaf: MerkleHash?)]

    /// Events from `seq` on as a verifier needs them: the canonical bytes rebuilt from the stored
    /// columns as they are (no parsing), with the leaf hash stored for each.
    func ledgerEntries(from seq: Int64, limit: Int) async throws -> [LedgerEntry]

    /// A value the ledger keeps about itself (its id, for the default origin).
    func ledgerInfo(_ name: String) async throws -> String?

    /// Sets it once: returns the stored value, which is `value` unless one was already there.
    func setLedgerInfoIfAbsent(_ name: String, value: String) async throws -> String

    /// Stores a signed checkpoint note for a tree size.
    func saveCheckpoint(size: Int, note: String, time: Date) async throws

    /// Stored checkpoint notes, oldest first.
    func checkpoints() async throws -> [(size: Int, note: String)]
}

/// One stored event as the ledger verifier reads it.
public struct LedgerEntry: Sendable {
    public var seq: Int64
    /// The RFC 8785 bytes rebuilt from the stored columns.
    public var canonicalBytes: [UInt8]
    public var storedLeaf: MerkleHash?
    /// The payloads stored beside the event: name and RFC 8785 bytes.
    public var payloads: [(name: String, bytes: [UInt8])]
    /// True when the event's payloads were erased by a redaction.
    public var payloadsRedacted: Bool

    public init(
        seq: Int64, canonicalBytes: [UInt8], storedLeaf: MerkleHash?,
        payloads: [(name: String, bytes: [UInt8])] = [], payloadsRedacted: Bool = false
    ) {
        self.seq = seq
        self.canonicalBytes = canonicalBytes
        self.storedLeaf = storedLeaf
        self.payloads = payloads
        self.payloadsRedacted = payloadsRedacted
    }
}
