import Testing
import UAEFLedger

@Suite("RFC 6962 / RFC 9162 Merkle tree")
struct MerkleTreeTests {
    /// The 8 leaves of the RFC 6962 test tree used by public implementations (certificate-transparency-go).
    static let leaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ]

    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    @Test("golden roots of the RFC 6962 test tree for every prefix size 0 to 8")
    func goldenRoots() {
        var log = MerkleLog()
        #expect(log.root().hex == Self.roots[0])
        for (index, leaf) in Self.leaves.enumerated() {
            log.append(.leaf(leaf))
            #expect(log.root().hex == Self.roots[index + 1], "size \(index + 1)")
        }
        for size in 0...8 { #expect(log.root(size: size).hex == Self.roots[size]) }
    }

    /// MTH straight from RFC 6962 §2.1, recursing over the leaves: an independent reference.
    static func referenceRoot(_ leaves: ArraySlice<MerkleHash>) -> MerkleHash {
        if leaves.isEmpty { return .empty }
        if leaves.count == 1 { return leaves.first! }
        var k = 1
        while k << 1 < leaves.count { k <<= 1 }
        let start = leaves.startIndex
        return .node(referenceRoot(leaves[start..<start + k]), referenceRoot(leaves[(start + k)...]))
    }

    static func log(size: Int) -> (MerkleLog, [MerkleHash]) {
        var log = MerkleLog()
        var hashes: [MerkleHash] = []
        for index in 0..<size {
            let leaf = MerkleHash.leaf(Array("leaf \(index)".utf8))
            hashes.append(leaf)
            log.append(leaf)
        }
        return (log, hashes)
    }

    @Test("every prefix root from stored subtrees equals the recursive definition, up to 300 leaves")
    func rootsMatchReference() {
        let (log, hashes) = Self.log(size: 300)
        for size in 0...300 {
            #expect(log.root(size: size) == Self.referenceRoot(hashes[0..<size]))
        }
    }

    @Test("every inclusion proof verifies, and every mutation of it fails, for all sizes up to 130")
    func inclusionProofs() throws {
        let (log, hashes) = Self.log(size: 131)
        let other = MerkleHash.leaf(Array("other".utf8))
        for size in 1...130 {
            let root = log.root(size: size)
            let nextRoot = log.root(size: size + 1)
            for index in 0..<size {
                let proof = try #require(MerkleTree.inclusionProof(log, index: index, size: size))
                #expect(throws: Never.self) {
                    try ProofVerifier.verifyInclusion(
                        leaf: hashes[index], index: index, size: size, proof: proof, root: root)
                }
                // Mutations: another index, another size, a flipped bit, an extra or missing hash, a wrong root.
                func fails(_ leaf: MerkleHash, _ i: Int, _ n: Int, _ p: [MerkleHash], _ r: MerkleHash) -> Bool {
                    (try? ProofVerifier.verifyInclusion(leaf: leaf, index: i, size: n, proof: p, root: r)) == nil
                }
                if index + 1 < size { #expect(fails(hashes[index], index + 1, size, proof, root)) }
                if index > 0 { #expect(fails(hashes[index], index - 1, size, proof, root)) }
                // A proof for one size never verifies against another size's root (the same proof
                // can fit two sizes' shapes, so the size is bound through the root it is checked against).
                #expect(fails(hashes[index], index, size + 1, proof, nextRoot))
                #expect(fails(other, index, size, proof, root))
                #expect(fails(hashes[index], index, size, proof + [other], root))
                if !proof.isEmpty {
                    #expect(fails(hashes[index], index, size, Array(proof.dropLast()), root))
                    var flipped = proof
                    var bytes = flipped[0].bytes
                    bytes[7] ^= 0x10
                    flipped[0] = try #require(MerkleHash(bytes: bytes))
                    #expect(fails(hashes[index], index, size, flipped, root))
                }
                #expect(fails(hashes[index], index, size, proof, other))
            }
        }
        #expect(MerkleTree.inclusionProof(log, index: 5, size: 5) == nil)
    }

    @Test("every consistency proof verifies, and every mutation of it fails, for all size pairs up to 70")
    func consistencyProofs() throws {
        let (log, _) = Self.log(size: 70)
        let other = MerkleHash.leaf(Array("other".utf8))
        for newSize in 1...70 {
            let newRoot = log.root(size: newSize)
            for oldSize in 1...newSize {
                let oldRoot = log.root(size: oldSize)
                let proof = try #require(MerkleTree.consistencyProof(log, from: oldSize, to: newSize))
                #expect(throws: Never.self) {
                    try ProofVerifier.verifyConsistency(
                        oldSize: oldSize, newSize: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: proof)
                }
                func fails(_ m: Int, _ n: Int, _ r1: MerkleHash, _ r2: MerkleHash, _ p: [MerkleHash]) -> Bool {
                    (try? ProofVerifier.verifyConsistency(oldSize: m, newSize: n, oldRoot: r1, newRoot: r2, proof: p))
                        == nil
                }
                #expect(fails(oldSize, newSize, other, newRoot, proof))
                #expect(fails(oldSize, newSize, oldRoot, other, proof))
                #expect(fails(oldSize, newSize, oldRoot, newRoot, proof + [other]))
                if oldSize < newSize {
                    #expect(fails(oldSize, newSize, oldRoot, newRoot, Array(proof.dropLast())))
                    #expect(fails(oldSize, newSize, oldRoot, newRoot, []))
                    // Other sizes, checked against their own roots.
                    if newSize < 70 {
                        #expect(fails(oldSize, newSize + 1, oldRoot, log.root(size: newSize + 1), proof))
                    }
                    if oldSize > 1 { #expect(fails(oldSize - 1, newSize, log.root(size: oldSize - 1), newRoot, proof)) }
                }
            }
        }
        #expect(MerkleTree.consistencyProof(log, from: 0, to: 5) == nil)
        #expect(MerkleTree.consistencyProof(log, from: 6, to: 5) == nil)
        #expect(throws: ProofFailure.self) {
            try ProofVerifier.verifyConsistency(oldSize: 0, newSize: 3, oldRoot: .empty, newRoot: .empty, proof: [])
        }
    }

    @Test("random large trees: proofs from the stored subtrees verify")
    func randomLargeTrees() throws {
        var generator = SystemRandomNumberGenerator()
        let (log, hashes) = Self.log(size: 5000)
        for _ in 0..<200 {
            let size = Int.random(in: 1...5000, using: &generator)
            let index = Int.random(in: 0..<size, using: &generator)
            let oldSize = Int.random(in: 1...size, using: &generator)
            let proof = try #require(MerkleTree.inclusionProof(log, index: index, size: size))
            try ProofVerifier.verifyInclusion(
                leaf: hashes[index], index: index, size: size, proof: proof, root: log.root(size: size))
            let consistency = try #require(MerkleTree.consistencyProof(log, from: oldSize, to: size))
            try ProofVerifier.verifyConsistency(
                oldSize: oldSize, newSize: size, oldRoot: log.root(size: oldSize), newRoot: log.root(size: size),
                proof: consistency)
        }
    }

    @Test("the RFC 6962 test tree's published proofs: inclusion of leaf 0 in 8, consistency from 2 to 5")
    func publishedProofs() throws {
        var log = MerkleLog()
        for leaf in Self.leaves { log.append(.leaf(leaf)) }
        let inclusion = try #require(MerkleTree.inclusionProof(log, index: 0, size: 8)).map(\.hex)
        #expect(
            inclusion == [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ])
        let consistency = try #require(MerkleTree.consistencyProof(log, from: 2, to: 5)).map(\.hex)
        #expect(
            consistency == [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ])
    }

    @Test("hashes must be exactly 32 bytes; hex and base64 round-trip")
    func hashEncoding() {
        #expect(MerkleHash(bytes: [1, 2, 3]) == nil)
        let hash = MerkleHash.leaf([0x00])
        #expect(MerkleHash(hex: hash.hex) == hash)
        #expect(MerkleHash(base64: hash.base64) == hash)
        #expect(MerkleHash(base64: "AAAA") == nil)
    }
}
