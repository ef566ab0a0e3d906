import Foundation
import UAEFCore
import UAEFLedger
import UAEFStoreSQLite

/// The machine's own speed, measured in the same invocation as a benchmark: this VM's fsync and
/// CPU speed wander by 1.5x from day to day, so a figure means most beside these and as a ratio
/// to them.
struct BenchReference {
    /// One fsync'd SQLite commit of a one-row insert (WAL, `synchronous = FULL`), median, seconds.
    var commitSeconds: Double
    /// One-row SQLite inserts a second in one transaction.
    var insertsPerSecond: Double
    /// SHA-256 hashes of 256-byte messages a second, by the ledger's own hasher.
    var hashesPerSecond: Double

    /// Measures all three on throwaway files in a new temporary folder.
    static func measure() throws -> BenchReference {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return BenchReference(
            commitSeconds: try SQLiteReference.commitSeconds(in: directory.path),
            insertsPerSecond: try SQLiteReference.insertsPerSecond(in: directory.path),
            hashesPerSecond: hashRate())
    }

    /// 256-byte messages hashed a second (a ledger leaf hashes about that much).
    private static func hashRate(messages: Int = 400_000) -> Double {
        var message = [UInt8](repeating: 0, count: 256)
        let first = MerkleHash.leaf(message)
        var repeats = 0
        let start = ContinuousClock.now
        for index in 0..<messages {
            message[0] = UInt8(truncatingIfNeeded: index)
            message[1] = UInt8(truncatingIfNeeded: index >> 8)
            // Compared, so the hashing is not optimised away.
            if MerkleHash.leaf(message) == first { repeats += 1 }
        }
        let elapsed = ContinuousClock.now - start
        keep(repeats)
        return Double(messages) / LedgerBench.seconds(elapsed)
    }

    /// Consumes a result so the optimiser keeps the work that made it.
    @inline(never) private static func keep(_ value: Int) {
        if value == Int.min { print(value) }
    }

    var json: JSONValue {
        [
            "sqlite_commit_ms": Self.number(commitSeconds * 1000, digits: 3),
            "sqlite_inserts_per_second": .number(Number(Int(insertsPerSecond))),
            "sha256_256_byte_hashes_per_second": .number(Number(Int(hashesPerSecond))),
        ]
    }

    /// The line printed under a benchmark's figures.
    var text: String {
        "reference (this machine, now): SQLite commit \(String(format: "%.3f", commitSeconds * 1000)) ms fsync'd, \(Int(insertsPerSecond)) raw inserts/s, \(Int(hashesPerSecond)) SHA-256/s of 256 bytes"
    }

    /// A ratio or figure as a JSON number with `digits` decimals.
    static func number(_ value: Double, digits: Int) -> JSONValue {
        .number(Number(parsing: String(format: "%.\(digits)f", value)) ?? Number(0))
    }
}
