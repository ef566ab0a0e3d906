/// Why a proof did not verify.
public enum ProofFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case indexOutOfRange(index: Int, size: Int)
    case invalidSizes(Int, Int)
    case wrongLength(expected: String, actual: Int)
    case rootMismatch
    case nonEmptyProofForEqualSizes

    public var description: String {
        switch self {
        case .indexOutOfRange(let index, let size): "leaf index \(index) is not below the tree size \(size)"
        case .invalidSizes(let first, let second): "sizes \(first) and \(second) do not satisfy 0 < size1 ≤ size2"
        case .wrongLength(let expected, let actual): "the proof has \(actual) hashes; \(expected)"
        case .rootMismatch: "the proof does not lead to the expected root"
        case .nonEmptyProofForEqualSizes: "equal tree sizes need an empty proof"
        }
    }
}

/// RFC 9162 §2.1.3.2 and §2.1.4.2 verification, with every guard rule.
public enum ProofVerifier {
    /// Checks that `leaf` is at `index` of the tree of `size` leaves whose root is `root`.
    public static func verifyInclusion(
        leaf: MerkleHash, index: Int, size: Int, proof: [MerkleHash], root: MerkleHash
    ) throws(ProofFailure) {
        guard index >= 0, index < size else { throw .indexOutOfRange(index: index, size: size) }
        var fn = index
        var sn = size - 1
        var r = leaf
        for p in proof {
            guard sn != 0 else { throw .wrongLength(expected: "it is too long", actual: proof.count) }
            if fn & 1 == 1 || fn == sn {
                r = .node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = .node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongLength(expected: "it is too short", actual: proof.count) }
        guard r == root else { throw .rootMismatch }
    }

    /// Checks that the tree of `newSize` leaves with root `newRoot` extends the tree of `oldSize`
    /// leaves with root `oldRoot`.
    public static func verifyConsistency(
        oldSize: Int, newSize: Int, oldRoot: MerkleHash, newRoot: MerkleHash, proof: [MerkleHash]
    ) throws(ProofFailure) {
        guard oldSize > 0, oldSize <= newSize else { throw .invalidSizes(oldSize, newSize) }
        if oldSize == newSize {
            guard proof.isEmpty else { throw .nonEmptyProofForEqualSizes }
            guard oldRoot == newRoot else { throw .rootMismatch }
            return
        }
        guard !proof.isEmpty else { throw .wrongLength(expected: "a consistency proof is never empty", actual: 0) }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw .wrongLength(expected: "it is too long", actual: proof.count) }
            if fn & 1 == 1 || fn == sn {
                fr = .node(c, fr)
                sr = .node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = .node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongLength(expected: "it is too short", actual: proof.count) }
        guard fr == oldRoot, sr == newRoot else { throw .rootMismatch }
    }
}
