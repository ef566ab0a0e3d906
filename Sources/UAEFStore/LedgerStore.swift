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

    /// Passes the events from `seq` on (at most `limit`, in `seq` order) to `scan` as they are
    /// stored, and returns the scan when it is done or stopped. The scan runs where the store
    /// reads the rows, so a verifier copies nothing per event out of the store's buffers, and
    /// several scans of different ranges may run at once.
    func scanLedger<Scan: LedgerScan>(from seq: Int64, limit: Int, into scan: Scan) async throws -> Scan

    /// A value the ledger keeps about itself (its id, for the default origin).
    func ledgerInfo(_ name: String) async throws -> String?

    /// Sets it once: returns the stored value, which is `value` unless one was already there.
    func setLedgerInfoIfAbsent(_ name: String, value: String) async throws -> String

    /// Stores a signed checkpoint note for a tree size.
    func saveCheckpoint(size: Int, note: String, time: Date) async throws

    /// Stored checkpoint notes, oldest first.
    func checkpoints() async throws -> [(size: Int, note: String)]
}

/// A pass over stored events that a store runs as it reads them (``LedgerStore/scanLedger(from:limit:into:)``).
public protocol LedgerScan: Sendable {
    /// Takes one stored event, whose buffers are valid only during the call; false stops the scan.
    mutating func visit(_ event: StoredLedgerEvent) throws -> Bool
}

/// One event's columns exactly as stored: views into the store's buffers, valid only while a
/// ``LedgerScan`` visits them.
public struct StoredLedgerEvent {
    public var seq: Int64
    /// UTF-8 text columns.
    public var id, time, type, actor, tenant, subject: UnsafeRawBufferPointer
    /// The RFC 8785 bytes of the event's data, as stored.
    public var canonicalData: UnsafeRawBufferPointer
    /// The stored leaf hash; nil when the column is empty (NULL).
    public var leafHash: UnsafeRawBufferPointer?
    /// The payloads stored beside the event (``EventPayloads/frame(_:)``); empty when none.
    public var payloadFrame: UnsafeRawBufferPointer
    /// True when the event's payloads were erased by a redaction.
    public var payloadsRedacted: Bool

    public init(
        seq: Int64, id: UnsafeRawBufferPointer, time: UnsafeRawBufferPointer, type: UnsafeRawBufferPointer,
        actor: UnsafeRawBufferPointer, tenant: UnsafeRawBufferPointer, subject: UnsafeRawBufferPointer,
        canonicalData: UnsafeRawBufferPointer, leafHash: UnsafeRawBufferPointer?, payloadFrame: UnsafeRawBufferPointer,
        payloadsRedacted: Bool
    ) {
        self.seq = seq
        self.id = id
        self.time = time
        self.type = type
        self.actor = actor
        self.tenant = tenant
        self.subject = subject
        self.canonicalData = canonicalData
        self.leafHash = leafHash
        self.payloadFrame = payloadFrame
        self.payloadsRedacted = payloadsRedacted
    }

    /// Writes the RFC 8785 bytes of the event object, rebuilt from the columns as they are.
    public func writeLedgerBytes(to output: inout some CanonicalOutput) {
        EventRecord.writeLedgerBytes(
            seq: seq, to: &output, data: { $0.write(canonicalData) },
            text: { field, output in
                let text = field.select(actor: actor, id: id, subject: subject, tenant: tenant, time: time, type: type)
                CanonicalJSON.writeString(utf8: text, to: &output)
            })
    }
}
