/// The right edge of a Merkle log: the complete subtrees that a tree of `size` leaves ends in,
/// one per set bit of `size`. Enough to append leaves and to compute the root, in O(log n)
/// memory, so a store can append in the same transaction as its events without reading the tree.
public struct MerkleFrontier: Sendable, Equatable {
    /// The number of leaves so far.
    public private(set) var size: Int
    /// `subtrees[L]`: the complete subtree of 2^L leaves on the right edge, when bit L of `size` is set.
    public private(set) var subtrees: [MerkleHash?]

    /// The frontier of the empty tree.
    public init() {
        size = 0
        subtrees = []
    }

    /// The frontier of a tree of `size` leaves, reading its right-edge subtrees from `source`.
    public init(size: Int, source: some SubtreeHashes) {
        self.size = size
        subtrees = []
        for level in 0..<(Int.bitWidth - size.leadingZeroBitCount) {
            guard size >> level & 1 == 1 else {
                subtrees.append(nil)
                continue
            }
            subtrees.append(source.subtreeHash(level: level, index: (size >> level) - 1))
        }
    }

    /// The positions a frontier of `size` leaves reads: (level, index) per set bit.
    public static func positions(size: Int) -> [(level: Int, index: Int)] {
        (0..<(Int.bitWidth - size.leadingZeroBitCount)).filter { size >> $0 & 1 == 1 }.map { ($0, (size >> $0) - 1) }
    }

    /// Appends a leaf hash, passing every complete subtree above the leaves that it creates
    /// (level ≥ 1, lowest first) to `created`, for a store to keep.
    public mutating func append(
        _ leaf: MerkleHash, created: (_ level: Int, _ index: Int, _ hash: MerkleHash) throws -> Void
    ) rethrows {
        var hash = leaf
        var level = 0
        while level < subtrees.count, let left = subtrees[level] {
            hash = .node(left, hash)
            subtrees[level] = nil
            level += 1
            try created(level, (size + 1) >> level - 1, hash)
        }
        if level == subtrees.count { subtrees.append(nil) }
        subtrees[level] = hash
        size += 1
    }

    /// Appends a leaf hash.
    public mutating func append(_ leaf: MerkleHash) { append(leaf) { _, _, _ in } }

    /// The root of the tree: the right-edge subtrees folded from the smallest up.
    public var root: MerkleHash { root(above: nil) ?? .empty }

    /// The right-edge subtrees folded from the smallest up onto `lower`: the root of a larger
    /// tree whose right edge continues below this frontier's smallest subtree, folded into
    /// `lower` already. A verifier that hashes aligned blocks of 2^k leaves apart uses it with
    /// the frontier of the complete blocks' roots, and the folded partial edge of the current block.
    /// Nil only when both are empty.
    public func root(above lower: MerkleHash?) -> MerkleHash? {
        var result = lower
        for subtree in subtrees {
            guard let subtree else { continue }
            result = result.map { .node(subtree, $0) } ?? subtree
        }
        return result
    }
}
