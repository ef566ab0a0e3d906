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

    /// Reads every event in pages and reports the first problem.
    ///
    /// Three pages are in hand at once, one per stage: SQLite reads the next page, the current
    /// page's leaves and payload digests are hashed, and the previous page's leaves are added to
    /// the tree in order (where the heads and checkpoints are met), so both cores stay busy.
    public func verify(pageSize: Int = 10_000, progress: ((Int) -> Void)? = nil) async throws -> Report {
        var state = State(
            heads: try await store.treeHeads(), checkpoints: try await store.checkpoints(), verifier: verifier)
        if let problem = state.checkReached() { return state.failed(problem) }
        var page = try await store.ledgerEntries(from: 0, limit: pageSize)
        var hashed: [HashedEntry] = []
        while !page.isEmpty || !hashed.isEmpty {
            let nextStart = page.last.map { $0.seq + 1 }
            let store = store
            async let nextPage: [LedgerEntry] =
                if let nextStart { try await store.ledgerEntries(from: nextStart, limit: pageSize) } else { [] }
            async let nextHashed = page.map(HashedEntry.init)
            for entry in hashed {
                if let problem = state.add(entry) { return state.failed(problem) }
            }
            if !hashed.isEmpty { progress?(state.frontier.size) }
            hashed = await nextHashed
            page = try await nextPage
        }
        // Every commit writes a head for its last event, so events past the last head were not written by UAEF.
        if let last = state.heads.last, last.size < state.frontier.size {
            let detail =
                "\(state.frontier.size - last.size) events after the last tree head (size \(last.size)) were added outside UAEF"
            return state.failed(Problem(index: last.size, kind: .eventMissing, detail: detail))
        }
        if let head = state.heads.dropFirst(state.headIndex).first {
            let detail = "a tree head records \(head.size) events but only \(state.frontier.size) exist"
            return state.failed(Problem(index: state.frontier.size, kind: .eventMissing, detail: detail))
        }
        if let checkpoint = state.checkpoints.dropFirst(state.checkpointIndex).first {
            let detail = "a checkpoint covers \(checkpoint.size) events but only \(state.frontier.size) exist"
            return state.failed(Problem(index: state.frontier.size, kind: .eventMissing, detail: detail))
        }
        return state.report
    }

    /// What one event hashes to, worked out on its own (any page, any core) before the tree
    /// takes it in order.
    private struct HashedEntry: Sendable {
        var seq: Int64
        var leaf: MerkleHash
        var storedLeaf: MerkleHash?
        var payloads: Int
        var payloadsRedacted: Bool
        /// The first payload whose bytes the event does not commit to: its name and digest.
        var changedPayload: (name: String, sha256: String)?

        init(_ entry: LedgerEntry) {
            seq = entry.seq
            leaf = MerkleHash.leaf(entry.canonicalBytes)
            storedLeaf = entry.storedLeaf
            payloads = entry.payloads.count
            payloadsRedacted = entry.payloadsRedacted
            changedPayload = entry.payloads.first {
                !EventPayloads.commits(entry.canonicalBytes, to: $0.name, body: $0.bytes)
            }
            .map { ($0.name, ContentDigest.sha256($0.bytes)) }
        }
    }

    /// The tree rebuilt so far and the heads and checkpoints still to meet.
    private struct State {
        let heads: [(size: Int, root: MerkleHash)]
        let checkpoints: [(size: Int, note: String)]
        let verifier: NoteVerifier?
        var frontier = MerkleFrontier()
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

        /// Adds the next event's leaf to the tree after checking it is the next index, its leaf
        /// and its payloads; then meets the heads and checkpoints of the new size.
        mutating func add(_ entry: HashedEntry) -> Problem? {
            let index = frontier.size
            guard entry.seq == Int64(index) else {
                return Problem(
                    index: index, kind: .eventMissing, detail: "expected seq \(index), found seq \(entry.seq)")
            }
            guard entry.storedLeaf == entry.leaf else {
                let detail = "its bytes no longer hash to the stored leaf \(entry.storedLeaf?.hex ?? "(none)")"
                return Problem(index: index, kind: .eventChanged, detail: detail)
            }
            if entry.payloadsRedacted { report.redactedPayloads += 1 }
            if let (name, digest) = entry.changedPayload {
                let detail = "its \(name) payload hashes to \(digest), which the event does not carry"
                return Problem(index: index, kind: .payloadChanged, detail: detail)
            }
            report.payloads += entry.payloads
            frontier.append(entry.leaf)
            report.events += 1
            return checkReached()
        }

        /// Checks the heads and checkpoints recorded for exactly the current size.
        mutating func checkReached() -> Problem? {
            let index = max(frontier.size - 1, 0)
            while headIndex < heads.count, heads[headIndex].size == frontier.size {
                guard heads[headIndex].root == frontier.root else {
                    let detail =
                        "the stored head for size \(frontier.size) has root \(heads[headIndex].root.hex); the events give \(frontier.root.hex)"
                    return Problem(index: index, kind: .headMismatch, detail: detail)
                }
                report.treeHeads += 1
                headIndex += 1
            }
            while checkpointIndex < checkpoints.count, checkpoints[checkpointIndex].size == frontier.size {
                if let verifier {
                    let checkpoint: Checkpoint
                    do {
                        checkpoint = try Checkpoint.open(checkpoints[checkpointIndex].note, verifier: verifier)
                    } catch {
                        return Problem(
                            index: index, kind: .badSignature, detail: "checkpoint for size \(frontier.size): \(error)")
                    }
                    guard checkpoint.size == frontier.size, checkpoint.root == frontier.root else {
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
