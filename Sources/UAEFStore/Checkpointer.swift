import Foundation
import UAEFLedger

/// Signs checkpoints of a store's ledger, never two that are inconsistent.
public struct Checkpointer: Sendable {
    /// Why no checkpoint was signed.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    let store: any LedgerStore
    let signer: NoteSigner

    public init(store: any LedgerStore, signer: NoteSigner) {
        self.store = store
        self.signer = signer
    }

    /// The newest signed checkpoint note, signing one for the current tree first if it grew.
    ///
    /// Before signing, the new tree is checked to extend the last signed one with a consistency
    /// proof; a tree that does not is refused, so the log never signs two inconsistent checkpoints.
    public func checkpoint(now: Date = Date()) async throws -> String {
        let head = try await store.treeHead()
        let previous = try await store.checkpoints().last
        if let previous, previous.size == head.size { return previous.note }
        if let previous {
            let old = try Checkpoint.open(previous.note, verifier: signer.verifier)
            try await extends(old, head)
        }
        let note = try Checkpoint(origin: signer.name, size: head.size, root: head.root).signed(by: signer)
        try await store.saveCheckpoint(size: head.size, note: note, time: now)
        return note
    }

    /// Checks that the tree `head` extends the signed checkpoint `old`: every tree extends the
    /// empty one; a larger one must prove it with a consistency proof.
    private func extends(_ old: Checkpoint, _ head: (size: Int, root: MerkleHash)) async throws {
        if old.size == 0 {
            guard old.root == MerkleHash.empty else {
                throw Refusal(description: "the last checkpoint claims an empty tree with a root that is not empty")
            }
            return
        }
        guard old.size <= head.size,
            let proof = try await store.consistencyProof(from: old.size, to: head.size)
        else {
            throw Refusal(
                description: "the tree (\(head.size) events) no longer extends the last checkpoint (\(old.size))")
        }
        do {
            try ProofVerifier.verifyConsistency(
                oldSize: old.size, newSize: head.size, oldRoot: old.root, newRoot: head.root, proof: proof)
        } catch {
            throw Refusal(description: "the tree is not consistent with the last checkpoint: \(error)")
        }
    }
}
