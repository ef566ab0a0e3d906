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
    public func verify(pageSize: Int = 10_000, progress: ((Int) -> Void)? = nil) async throws -> Report {
        var state = State(
            heads: try await store.treeHeads(), checkpoints: try await store.checkpoints(), verifier: verifier)
        if let problem = state.checkReached() { return state.failed(problem) }
        var page = try await store.ledgerEntries(from: 0, limit: pageSize)
        while let last = page.last {
            // Read the next page while this one is hashed: SQLite on one core, SHA-256 on another.
            async let nextPage = store.ledgerEntries(from: last.seq + 1, limit: pageSize)
            for entry in page {
                let index = state.frontier.size
                guard entry.seq == Int64(index) else {
                    return state.failed(
                        Problem(
                            index: index, kind: .eventMissing, detail: "expected seq \(index), found seq \(entry.seq)")
                    )
                }
                let leaf = MerkleHash.leaf(entry.canonicalBytes)
                guard entry.storedLeaf == leaf else {
                    let detail = "its bytes no longer hash to the stored leaf \(entry.storedLeaf?.hex ?? "(none)")"
                    return state.failed(Problem(index: index, kind: .eventChanged, detail: detail))
                }
                if let problem = state.checkPayloads(of: entry, index: index) { return state.failed(problem) }
                state.frontier.append(leaf)
                state.report.events += 1
                if let problem = state.checkReached() { return state.failed(problem) }
            }
            progress?(state.frontier.size)
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

        /// Checks that each payload still stored beside an event hashes to the digest the event carries.
        mutating func checkPayloads(of entry: LedgerEntry, index: Int) -> Problem? {
            if entry.payloadsRedacted { report.redactedPayloads += 1 }
            for payload in entry.payloads {
                guard EventPayloads.commits(entry.canonicalBytes, to: payload.name, body: payload.bytes) else {
                    let digest = ContentDigest.sha256(payload.bytes)
                    let detail = "its \(payload.name) payload hashes to \(digest), which the event does not carry"
                    return Problem(index: index, kind: .payloadChanged, detail: detail)
                }
                report.payloads += 1
            }
            return nil
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
