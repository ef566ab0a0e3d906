import UAEFCore
import UAEFLedger

/// The JSON documents the ledger hands out, the same from the CLI and the HTTP API.
public enum LedgerDocuments {
    /// Why a proof was not made: the sizes or index asked for are outside the tree.
    public struct OutOfRange: Error, CustomStringConvertible {
        public var description: String
    }

    /// `{"index", "tree_size", "leaf_hash", "root", "proof"}` for event `index` in the tree of
    /// `size` leaves (default: the current size).
    public static func inclusion(index: Int, size: Int?, store: any LedgerStore) async throws -> JSONValue {
        let current = try await store.treeHead().size
        let treeSize = size ?? current
        guard index >= 0, index < treeSize, treeSize <= current,
            let proof = try await store.inclusionProof(index: index, size: treeSize),
            let leaf = try await store.ledgerEvents(from: Int64(index), limit: 1).first?.storedLeaf
        else {
            throw OutOfRange(
                description:
                    "index \(index), size \(treeSize): need 0 ≤ index < size ≤ \(current) (the number of events)")
        }
        return [
            "index": .number(Number(index)), "tree_size": .number(Number(treeSize)), "leaf_hash": .string(leaf.base64),
            "root": .string(try await store.root(size: treeSize).base64),
            "proof": .array(proof.map { .string($0.base64) }),
        ]
    }

    /// `{"size1", "size2", "root1", "root2", "proof"}` between two tree sizes.
    public static func consistency(from size1: Int, to size2: Int, store: any LedgerStore) async throws -> JSONValue {
        let current = try await store.treeHead().size
        guard size1 > 0, size1 <= size2, size2 <= current,
            let proof = try await store.consistencyProof(from: size1, to: size2)
        else {
            throw OutOfRange(
                description: "from \(size1), to \(size2): need 0 < from ≤ to ≤ \(current) (the number of events)")
        }
        return [
            "size1": .number(Number(size1)), "size2": .number(Number(size2)),
            "root1": .string(try await store.root(size: size1).base64),
            "root2": .string(try await store.root(size: size2).base64),
            "proof": .array(proof.map { .string($0.base64) }),
        ]
    }

    /// One export line, `{"event", "index", "leaf_hash", "payloads"}`, with `event` as the exact
    /// RFC 8785 text that was hashed (so a reader can hash the line's bytes as they stand).
    public static func exportLine(_ record: EventRecord) -> String {
        let bytes = CanonicalJSON.bytes(record.ledgerObject)
        let leaf = MerkleHash.leaf(bytes)
        let payloads = CanonicalJSON.text(.object(record.event.payloads))
        return
            #"{"event":\#(String(decoding: bytes, as: UTF8.self)),"index":\#(record.seq),"leaf_hash":"\#(leaf.base64)","payloads":\#(payloads)}"#
    }
}
