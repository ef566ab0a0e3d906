import Testing
import UAEFLedger

@Suite("Merkle frontier")
struct MerkleFrontierTests {
    @Test("appending through the frontier gives the same roots and subtrees as the full log, and reloads from it")
    func matchesLog() {
        var log = MerkleLog()
        var frontier = MerkleFrontier()
        #expect(frontier.root == .empty)
        for index in 0..<600 {
            let leaf = MerkleHash.leaf(Array("event \(index)".utf8))
            let expected = log.append(leaf).dropFirst()  // the log lists the leaf itself first
            var created: [(level: Int, index: Int, hash: MerkleHash)] = []
            frontier.append(leaf) { created.append(($0, $1, $2)) }
            #expect(created.map(\.level) == expected.map(\.level))
            #expect(created.map(\.index) == expected.map(\.index))
            #expect(created.map(\.hash) == expected.map(\.hash))
            #expect(frontier.root == log.root(), "size \(index + 1)")
            #expect(MerkleFrontier(size: log.size, source: log) == frontier)
        }
        #expect(MerkleFrontier.positions(size: 6).map(\.level) == [1, 2])
        #expect(MerkleFrontier.positions(size: 6).map(\.index) == [2, 0])
    }
}
