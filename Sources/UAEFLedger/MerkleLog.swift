/// An append-only log of leaf hashes that keeps every complete subtree, so roots and proofs cost
/// O(log n) lookups. In memory; the stores keep the same levels in a table.
public struct MerkleLog: SubtreeHashes, Sendable {
    /// `levels[L][i]`: the complete subtree of 2^L leaves starting at leaf i·2^L.
    public private(set) var levels: [[MerkleHash]] = [[]]

    public init() {}

    /// The number of leaves.
    public var size: Int { levels[0].count }

    /// Appends a leaf hash, completing whatever subtrees it closes; returns the new complete
    /// subtrees as (level, index, hash) for a store to persist.
    @discardableResult
    public mutating func append(_ leaf: MerkleHash) -> [(level: Int, index: Int, hash: MerkleHash)] {
        var added = [(level: 0, index: levels[0].count, hash: leaf)]
        levels[0].append(leaf)
        var level = 0
        while levels[level].count % 2 == 0 {
            let count = levels[level].count
            let parent = MerkleHash.node(levels[level][count - 2], levels[level][count - 1])
            if levels.count == level + 1 { levels.append([]) }
            levels[level + 1].append(parent)
            added.append((level: level + 1, index: levels[level + 1].count - 1, hash: parent))
            level += 1
        }
        return added
    }

    public func subtreeHash(level: Int, index: Int) -> MerkleHash { levels[level][index] }

    /// The root of the first `size` leaves (default: all).
    public func root(size: Int? = nil) -> MerkleHash { MerkleTree.root(self, size: size ?? self.size) }
}
