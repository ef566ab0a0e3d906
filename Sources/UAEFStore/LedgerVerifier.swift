import Foundation
import UAEFCore
import UAEFLedger

/// Recomputes the whole ledger from the stored events and checks it against what is stored:
/// every leaf, every tree head and every signed checkpoint.
public struct LedgerVerifier: Sendable {
    /// What was checked, and the first problem found.
    public struct Report: Sendable {
        public var events = 0
        public var treeHeads = 0
        public var checkpoints = 0
        /// Payloads whose bytes hash to the digest their event carries.
        public var payloads = 0
        /// Events whose payloads were erased by redaction (their digests stay in the ledger).
        public var redactedPayloads = 0
        /// The first problem, or nil when the ledger is intact.
        public var problem: Problem?
    }

    /// A problem, located at the first event index it concerns.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case eventChanged = "event changed"
            case eventMissing = "event missing, inserted or reordered"
            case headMismatch = "tree head mismatch"
            case badSignature = "bad checkpoint signature"
            case checkpointMismatch = "checkpoint does not match the events"
            case payloadChanged = "payload changed"
        }

        public var index: Int
        public var kind: Kind
        public var detail: String

        public var description: String { "index \(index): \(kind.rawValue): \(detail)" }
    }

    let store: any LedgerStore
    let verifier: NoteVerifier?

    /// Checks `store`; checkpoints are checked against `verifier` when given.
    public init(store: any LedgerStore, verifier: NoteVerifier?) {
        self.store = store
        self.verifier = verifier
    }

    /// Reads every event in blocks of `blockSize` (a power of two) and reports the first problem.
    ///
    /// Blocks are scanned concurrently, two more than there are cores (so no core waits for the
    /// block before), each where the store reads it: its
    /// leaves are rebuilt, hashed and compared, its payloads checked and the subtree over it
    /// hashed. This task takes the blocks in order, folds their roots and checks every tree head
    /// and checkpoint against the root of its size.
    public func verify(blockSize: Int = 8_192) async throws -> Report {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "the block size must be a power of two")
        var state = State(
            heads: try await store.treeHeads(), checkpoints: try await store.checkpoints(), verifier: verifier)
        if let problem = state.checkReached(size: 0, root: .empty) { return state.failed(problem) }
        let checkSizes = Array(Set(state.heads.map(\.size) + state.checkpoints.map(\.size))).sorted()
        let store = store
        let inFlight = ProcessInfo.processInfo.activeProcessorCount + 2
        let problem = try await withThrowingTaskGroup(of: BlockScan.self) { group -> Problem? in
            var launched = 0
            func launchNext() {
                let start = launched * blockSize
                let sizes = checkSizes.drop { $0 <= start }.prefix { $0 <= start + blockSize }
                let scan = BlockScan(start: start, checkSizes: Array(sizes))
                group.addTask { try await store.scanLedger(from: Int64(start), limit: blockSize, into: scan) }
                launched += 1
            }
            for _ in 0..<inFlight { launchNext() }
            // Blocks finish in any order and are taken in order.
            var finished: [Int: BlockScan] = [:]
            while let scan = try await group.next() {
                finished[scan.start / blockSize] = scan
                while let block = finished.removeValue(forKey: state.size / blockSize) {
                    if let problem = state.take(block) {
                        group.cancelAll()
                        return problem
                    }
                    guard block.count == blockSize else {
                        // A short block is the last: the store has no events after it.
                        group.cancelAll()
                        return nil
                    }
                    launchNext()
                }
            }
            return nil
        }
        if let problem { return state.failed(problem) }
        // Every commit writes a head for its last event, so events past the last head were not written by UAEF.
        if let last = state.heads.last, last.size < state.size {
            let detail =
                "\(state.size - last.size) events after the last tree head (size \(last.size)) were added outside UAEF"
            return state.failed(Problem(index: last.size, kind: .eventMissing, detail: detail))
        }
        if let head = state.heads.dropFirst(state.headIndex).first {
            let detail = "a tree head records \(head.size) events but only \(state.size) exist"
            return state.failed(Problem(index: state.size, kind: .eventMissing, detail: detail))
        }
        if let checkpoint = state.checkpoints.dropFirst(state.checkpointIndex).first {
            let detail = "a checkpoint covers \(checkpoint.size) events but only \(state.size) exist"
            return state.failed(Problem(index: state.size, kind: .eventMissing, detail: detail))
        }
        return state.report
    }

    /// One block of events checked where the store reads it: every leaf rebuilt from its stored
    /// event and compared with the stored leaf, every stored payload against the digest its
    /// event carries, and the subtree over the block, with its partial roots at the sizes the
    /// heads and checkpoints record.
    struct BlockScan: LedgerScan {
        /// The index of the block's first event.
        let start: Int
        /// The sizes in (start, start + block size] that heads or checkpoints record, ascending.
        let checkSizes: [Int]
        /// The subtree over the block's events so far.
        private(set) var frontier = MerkleFrontier()
        /// For each size of `checkSizes` reached: the root of the block's part of that tree, and
        /// what the block had counted by then.
        private(set) var partialRoots: [(size: Int, root: MerkleHash, tally: Tally)] = []
        private(set) var tally = Tally()
        /// The first problem in the block; the scan stops there.
        private(set) var problem: Problem?
        /// Reused from one event to the next.
        private var member: [UInt8] = []

        init(start: Int, checkSizes: [Int]) {
            self.start = start
            self.checkSizes = checkSizes
        }

        /// The events checked.
        var count: Int { frontier.size }

        /// What a block counts, and a report adds up.
        struct Tally {
            var events = 0
            var payloads = 0
            var redactedPayloads = 0
        }

        mutating func visit(_ event: StoredLedgerEvent) throws -> Bool {
            let index = start + frontier.size
            guard event.seq == Int64(index) else {
                problem = Problem(
                    index: index, kind: .eventMissing, detail: "expected seq \(index), found seq \(event.seq)")
                return false
            }
            var hasher = LeafHasher()
            event.writeLedgerBytes(to: &hasher)
            let leaf = hasher.finalize()
            let storedLeaf = event.leafHash.flatMap { MerkleHash(bytes: $0) }
            guard storedLeaf == leaf else {
                let detail = "its bytes no longer hash to the stored leaf \(storedLeaf?.hex ?? "(none)")"
                problem = Problem(index: index, kind: .eventChanged, detail: detail)
                return false
            }
            let checked = try Self.checkPayloads(of: event, scratch: &member)
            if let mismatch = checked.mismatch {
                problem = Problem(index: index, kind: .payloadChanged, detail: mismatch)
                return false
            }
            frontier.append(leaf)
            tally.events += 1
            tally.payloads += checked.count
            if event.payloadsRedacted { tally.redactedPayloads += 1 }
            if partialRoots.count < checkSizes.count, checkSizes[partialRoots.count] == start + frontier.size {
                partialRoots.append((start + frontier.size, frontier.root, tally))
            }
            return true
        }

        /// Checks that each payload still stored beside an event hashes to the digest the event's
        /// data carries (the data as stored, which its leaf was just checked to cover): the number
        /// that do, and what is wrong with the first that does not.
        private static func checkPayloads(
            of event: StoredLedgerEvent, scratch: inout [UInt8]
        ) throws -> (count: Int, mismatch: String?) {
            var checked = 0
            var mismatch: String?
            let wellFormed = EventPayloads.forEachFramed(event.payloadFrame) { name, body in
                guard mismatch == nil else { return }
                let data = event.canonicalData
                guard EventPayloads.commits(data, toPayloadNamed: name, body: body, scratch: &scratch) else {
                    let digest = ContentDigest.sha256(Array(body))
                    let name = String(decoding: name, as: UTF8.self)
                    mismatch = "its \(name) payload hashes to \(digest), which the event does not carry"
                    return
                }
                checked += 1
            }
            guard wellFormed else {
                throw StoreCorruption(location: "events.payloads", reason: "event \(event.seq): not a payload frame")
            }
            return (checked, mismatch)
        }
    }

    /// The blocks taken so far and the heads and checkpoints still to meet.
    private struct State {
        let heads: [(size: Int, root: MerkleHash)]
        let checkpoints: [(size: Int, note: String)]
        let verifier: NoteVerifier?
        /// The roots of the complete blocks taken, as the leaves of a tree above them.
        var blockRoots = MerkleFrontier()
        /// The events taken.
        var size = 0
        var headIndex = 0
        var checkpointIndex = 0
        var report = Report()

        init(heads: [(size: Int, root: MerkleHash)], checkpoints: [(size: Int, note: String)], verifier: NoteVerifier?)
        {
            self.heads = heads
            self.checkpoints = checkpoints
            self.verifier = verifier
        }

        func failed(_ problem: Problem) -> Report {
            var result = report
            result.problem = problem
            return result
        }

        /// Takes the next block in order: checks the heads and checkpoints inside it, then its problem.
        mutating func take(_ block: BlockScan) -> Problem? {
            let before = report
            func count(_ tally: BlockScan.Tally) {
                report.events = before.events + tally.events
                report.payloads = before.payloads + tally.payloads
                report.redactedPayloads = before.redactedPayloads + tally.redactedPayloads
            }
            for partial in block.partialRoots {
                // The block's part folds under the complete blocks before it.
                let root = blockRoots.root(above: partial.root) ?? .empty
                count(partial.tally)
                if let problem = checkReached(size: partial.size, root: root) { return problem }
            }
            count(block.tally)
            size += block.count
            if let problem = block.problem { return problem }
            blockRoots.append(block.frontier.root)
            return nil
        }

        /// Checks the heads and checkpoints recorded for exactly `size` events, whose root is `root`.
        mutating func checkReached(size: Int, root: MerkleHash) -> Problem? {
            let index = max(size - 1, 0)
            while headIndex < heads.count, heads[headIndex].size == size {
                guard heads[headIndex].root == root else {
                    let detail =
                        "the stored head for size \(size) has root \(heads[headIndex].root.hex); the events give \(root.hex)"
                    return Problem(index: index, kind: .headMismatch, detail: detail)
                }
                report.treeHeads += 1
                headIndex += 1
            }
            while checkpointIndex < checkpoints.count, checkpoints[checkpointIndex].size == size {
                if let verifier {
                    let checkpoint: Checkpoint
                    do {
                        checkpoint = try Checkpoint.open(checkpoints[checkpointIndex].note, verifier: verifier)
                    } catch {
                        return Problem(
                            index: index, kind: .badSignature, detail: "checkpoint for size \(size): \(error)")
                    }
                    guard checkpoint.size == size, checkpoint.root == root else {
                        let detail =
                            "signed size \(checkpoint.size) and root \(checkpoint.root.base64) differ from the events'"
                        return Problem(index: index, kind: .checkpointMismatch, detail: detail)
                    }
                }
                report.checkpoints += 1
                checkpointIndex += 1
            }
            return nil
        }
    }
}
