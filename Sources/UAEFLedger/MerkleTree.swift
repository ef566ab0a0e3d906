/// Where the hashes of perfect subtrees come from: a subtree at `level` L and `index` i covers
/// leaves `[i·2^L, (i+1)·2^L)`; level 0 holds the leaf hashes.
///
/// Every root and proof below needs O(log n) of these lookups, so a store that keeps the
/// complete subtrees (as ``MerkleLog`` does in memory) answers in O(log n).
public protocol SubtreeHashes {
    /// The hash of a complete subtree that exists (its last leaf is below the tree size).
    func subtreeHash(level: Int, index: Int) -> MerkleHash
}

/// RFC 6962 / RFC 9162 §2.1 tree hashes and proofs over any ``SubtreeHashes``.
public enum MerkleTree {
    /// The largest power of two smaller than `n` (n > 1).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[start ..< start+count]); `start` is a multiple of the largest power of two ≤ count,
    /// as every range in the RFC's recursion is.
    static func rangeHash(_ source: some SubtreeHashes, start: Int, count: Int) -> MerkleHash {
        if count == 0 { return .empty }
        if count & (count - 1) == 0, start % count == 0 {
            return source.subtreeHash(level: count.trailingZeroBitCount, index: start / count)
        }
        let k = split(count)
        return .node(rangeHash(source, start: start, count: k), rangeHash(source, start: start + k, count: count - k))
    }

    /// The root of the first `size` leaves.
    public static func root(_ source: some SubtreeHashes, size: Int) -> MerkleHash {
        rangeHash(source, start: 0, count: size)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1 PATH).
    public static func inclusionProof(_ source: some SubtreeHashes, index: Int, size: Int) -> [MerkleHash]? {
        guard index >= 0, index < size else { return nil }
        var proof: [MerkleHash] = []
        var (start, count, leaf) = (0, size, index)
        while count > 1 {
            let k = split(count)
            if leaf < k {
                proof.append(rangeHash(source, start: start + k, count: count - k))
                count = k
            } else {
                proof.append(rangeHash(source, start: start, count: k))
                start += k
                count -= k
                leaf -= k
            }
        }
        return proof.reversed()
    }

    /// The consistency proof between the trees of the first `oldSize` and `newSize` leaves
    /// (RFC 6962 §2.1.2 PROOF); empty for equal sizes.
    public static func consistencyProof(_ source: some SubtreeHashes, from oldSize: Int, to newSize: Int)
        -> [MerkleHash]?
    {
        guard oldSize > 0, oldSize <= newSize else { return nil }
        guard oldSize < newSize else { return [] }
        var proof: [MerkleHash] = []
        var (start, count, m, complete) = (0, newSize, oldSize, true)
        while m < count {
            let k = split(count)
            if m <= k {
                proof.append(rangeHash(source, start: start + k, count: count - k))
                count = k
            } else {
                proof.append(rangeHash(source, start: start, count: k))
                start += k
                count -= k
                m -= k
                complete = false
            }
        }
        if !complete { proof.append(rangeHash(source, start: start, count: count)) }
        return proof.reversed()
    }
}
