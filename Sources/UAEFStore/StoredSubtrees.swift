import UAEFLedger

/// Complete subtree hashes as every store keeps them: the leaf hash of each event (level 0) and
/// the subtrees of level ``lowestStoredLevel`` and above; the levels between are folded from their
/// leaves when read. A backend reads the ``Read`` ranges a computation needs, then hands the rows
/// to ``init(positions:rows:)``.
public struct StoredSubtrees: SubtreeHashes {
    /// The lowest level a store keeps as node rows. Subtrees below it (at most 2^(level − 1)
    /// leaves) are recomputed from the leaves, so an append writes one node row per 2^(level − 1)
    /// events instead of one per event, and a proof still costs O(log n) reads.
    public static let lowestStoredLevel = 4

    /// Whether a store keeps subtrees of `level` as node rows (level 0 lives with the events).
    public static func storesNodes(atLevel level: Int) -> Bool { level >= lowestStoredLevel }

    /// A range of stored hashes to read: leaves (level 0) or node rows of one level.
    public struct Read: Hashable, Sendable {
        public var level: Int
        public var first: Int
        public var last: Int

        public init(level: Int, first: Int, last: Int) {
            self.level = level
            self.first = first
            self.last = last
        }
    }

    private var hashes: [Int: [Int: MerkleHash]] = [:]

    /// The positions `compute` reads. Which positions a tree computation reads depends only on
    /// sizes and indexes, never on hash values, so running it over placeholders finds them.
    public static func positions<T>(of compute: (any SubtreeHashes) -> T) -> [(level: Int, index: Int)] {
        let recorder = Recorder()
        _ = compute(recorder)
        return recorder.positions
    }

    /// The rows to read for `positions`.
    public static func reads(for positions: [(level: Int, index: Int)]) -> [Read] {
        var reads: [Read] = []
        var seen: Set<Read> = []
        for (level, index) in positions {
            let read =
                level == 0 || storesNodes(atLevel: level)
                ? Read(level: level, first: index, last: index)
                : Read(level: 0, first: index << level, last: ((index + 1) << level) - 1)
            if seen.insert(read).inserted { reads.append(read) }
        }
        return reads
    }

    /// The subtrees at `positions` from the rows read for them (`rows[read]`: index → hash).
    /// Throws ``StoreCorruption`` when a row is missing.
    public init(positions: [(level: Int, index: Int)], rows: [Read: [Int: MerkleHash]]) throws {
        for (level, index) in positions where hashes[level]?[index] == nil {
            guard let read = Self.reads(for: [(level, index)]).first, let found = rows[read],
                let hash = Self.fold(found, read: read)
            else {
                throw StoreCorruption(
                    location: Self.storesNodes(atLevel: level) ? "ledger_nodes" : "events.leaf_hash",
                    reason: "the subtree at level \(level), index \(index) is missing")
            }
            hashes[level, default: [:]][index] = hash
        }
    }

    /// The hash of the subtree `read` covers: the one row, or its leaves folded pair by pair.
    private static func fold(_ found: [Int: MerkleHash], read: Read) -> MerkleHash? {
        var layer: [MerkleHash] = []
        for index in read.first...read.last {
            guard let hash = found[index] else { return nil }
            layer.append(hash)
        }
        while layer.count > 1 {
            layer = stride(from: 0, to: layer.count, by: 2).map { .node(layer[$0], layer[$0 + 1]) }
        }
        return layer.first
    }

    public func subtreeHash(level: Int, index: Int) -> MerkleHash {
        hashes[level]?[index] ?? .empty
    }

    /// Records which subtrees a computation reads, without reading anything.
    private final class Recorder: SubtreeHashes {
        var positions: [(level: Int, index: Int)] = []

        func subtreeHash(level: Int, index: Int) -> MerkleHash {
            positions.append((level, index))
            return .empty
        }
    }
}

/// A stored row that does not read back as what was written: the store was changed by something else.
public struct StoreCorruption: Error, CustomStringConvertible {
    /// Which table and column.
    public let location: String
    public let reason: String

    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "the store holds an unreadable value in \(location): \(reason)" }
}
