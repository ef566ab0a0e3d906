import Dispatch
import Foundation
import UAEFCore
import UAEFLedger

/// An event made ready for the ledger before a store writes it: numbered, sealed (payloads
/// replaced by digests), its time formatted and its leaf hashed.
public struct PreparedEvent: Sendable {
    public var seq: Int64
    public var event: EventDraft
    /// RFC 3339, as stored and hashed.
    public var time: String
    public var sealed: EventPayloads.Sealed
    public var leaf: MerkleHash

    public init(_ event: EventDraft, seq: Int64) {
        self.seq = seq
        self.event = event
        time = Timestamp.format(event.time)
        sealed = EventPayloads.seal(event)
        leaf = MerkleHash.leaf(
            EventRecord.ledgerBytes(
                seq: seq, id: event.id, time: time, type: event.type, actor: event.actor, tenant: event.tenant,
                subject: event.subject, canonicalData: sealed.canonicalData))
    }

    /// Batches at least this large are prepared on every core.
    static let parallelThreshold = 2_048

    /// Prepares `events`, numbered from `firstSeq`. Canonical JSON and SHA-256 are most of an
    /// append's work outside the database, so a large batch spreads them over the cores while
    /// the caller holds its write transaction.
    public static func prepare(_ events: [EventDraft], from firstSeq: Int64) -> [PreparedEvent] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard events.count >= parallelThreshold, cores > 1 else {
            return events.enumerated().map { PreparedEvent($1, seq: firstSeq + Int64($0)) }
        }
        let chunk = (events.count + cores - 1) / cores
        return [PreparedEvent](unsafeUninitializedCapacity: events.count) { buffer, initialized in
            // Each chunk initializes its own disjoint slots.
            nonisolated(unsafe) let slots = buffer
            DispatchQueue.concurrentPerform(iterations: cores) { part in
                for index in (part * chunk)..<min(events.count, (part + 1) * chunk) {
                    (slots.baseAddress! + index).initialize(
                        to: PreparedEvent(events[index], seq: firstSeq + Int64(index)))
                }
            }
            initialized = events.count
        }
    }
}
