import Dispatch
import Foundation
import UAEFCore
import UAEFLedger

/// An event made ready for the ledger before a store writes it: numbered, sealed (payloads
/// replaced by digests, and framed for storage), its time formatted and its leaf hashed.
public struct PreparedEvent: Sendable {
    public var seq: Int64
    public var event: EventDraft
    /// RFC 3339, as stored and hashed.
    public var time: String
    /// The RFC 8785 bytes of the event's data, a digest member in place of each payload.
    public var canonicalData: [UInt8]
    /// The payloads as stored beside the event (``EventPayloads/frame(_:)``), nil when none.
    public var payloadFrame: [UInt8]?
    public var leaf: MerkleHash

    public init(_ event: EventDraft, seq: Int64) {
        self.seq = seq
        self.event = event
        time = Timestamp.format(event.time)
        // Only the canonical data and the framed payloads are kept: fewer allocations per event.
        let sealed = EventPayloads.seal(event)
        canonicalData = sealed.canonicalData
        payloadFrame = EventPayloads.frame(sealed.bodies)
        var hasher = LeafHasher()
        EventRecord.writeLedgerBytes(
            seq: seq, id: event.id, time: time, type: event.type, actor: event.actor, tenant: event.tenant,
            subject: event.subject, canonicalData: canonicalData, to: &hasher)
        leaf = hasher.finalize()
    }

    /// Batches at least this large are prepared on a second thread while the first is written.
    static let pipelineThreshold = 2_048

    /// Prepares `events`, numbered from `firstSeq`, and hands each to `write` in order.
    ///
    /// Canonical JSON and SHA-256 are about half of an append's work; for a large batch another
    /// thread prepares events in chunks ahead of the writer, so the caller's transaction spends its
    /// time in the database while a second core does the hashing.
    public static func forEach(
        _ events: [EventDraft], from firstSeq: Int64, _ write: (PreparedEvent) throws -> Void
    ) throws {
        guard events.count >= pipelineThreshold, ProcessInfo.processInfo.activeProcessorCount > 1 else {
            for (offset, event) in events.enumerated() {
                try write(PreparedEvent(event, seq: firstSeq + Int64(offset)))
            }
            return
        }
        let pipeline = Pipeline(events, from: firstSeq)
        defer { pipeline.finish() }
        for chunk in 0..<pipeline.chunkCount {
            // Each event is passed on where it lies, not copied.
            try pipeline.wait(for: chunk).withUnsafeBufferPointer { prepared in
                for index in prepared.indices { try write(prepared[index]) }
            }
            pipeline.consumed()
        }
    }

    /// Chunks prepared on a background thread, in order; each is released to the writer by a
    /// semaphore signal, which also publishes the chunk's memory to it. Once the writer has
    /// taken a chunk, the background thread frees it: the writer's transaction does no frees of
    /// the preparer's memory (another thread's, so the slower kind).
    private final class Pipeline: @unchecked Sendable {
        static let chunkSize = 256
        let chunkCount: Int
        /// One slot per chunk: the preparer writes a slot before signalling it, the writer reads
        /// it after and signals back; no slot is touched by both at once, and the buffer itself
        /// never moves.
        private let chunks: UnsafeMutableBufferPointer<[PreparedEvent]>
        private let ready = DispatchSemaphore(value: 0)
        private let taken = DispatchSemaphore(value: 0)
        private let done = DispatchSemaphore(value: 0)
        private let stop = ManagedAtomicFlag()

        init(_ events: [EventDraft], from firstSeq: Int64) {
            chunkCount = (events.count + Self.chunkSize - 1) / Self.chunkSize
            chunks = .allocate(capacity: chunkCount)
            chunks.initialize(repeating: [])
            DispatchQueue.global().async { [self] in
                var prepared = 0
                for chunk in 0..<chunkCount where !stop.isSet {
                    let range = (chunk * Self.chunkSize)..<min(events.count, (chunk + 1) * Self.chunkSize)
                    chunks[chunk] = range.map { PreparedEvent(events[$0], seq: firstSeq + Int64($0)) }
                    ready.signal()
                    prepared += 1
                }
                for chunk in 0..<prepared where !stop.isSet {
                    taken.wait()
                    chunks[chunk] = []
                }
                done.signal()
            }
        }

        deinit {
            chunks.deinitialize()
            chunks.deallocate()
        }

        /// Blocks until chunk `chunk` (the next one in order) is prepared, and returns it.
        func wait(for chunk: Int) -> [PreparedEvent] {
            ready.wait()
            return chunks[chunk]
        }

        /// Hands the chunk last returned by ``wait(for:)`` back to be freed.
        func consumed() { taken.signal() }

        /// Stops the preparer (when the writer failed early, or after the last chunk is taken)
        /// and waits for it to leave.
        func finish() {
            stop.set()
            taken.signal()
            done.wait()
        }
    }
}

/// A flag set once, read from another thread.
private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() { lock.withLock { value = true } }
}
