import Foundation
import UAEFCore
import UAEFLedger
import UAEFStore
import UAEFStoreSQLite

/// `uaef bench ledger`: appends, full verification and proofs on a fresh SQLite store.
enum LedgerBench {
    static func run(events count: Int, json: Bool) async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let store = try SQLiteStore(path: folder.path("ledger.db"))
        let batch = 10_000
        let time = Date()
        // Only the commits are timed: building the drafts is the caller's work, not the ledger's.
        var appendSeconds = 0.0
        var written = 0
        while written < count {
            var changes = ChangeSet()
            for index in written..<min(written + batch, count) {
                // Real event ids are time-sortable; these sort in append order too.
                let digits = String(index)
                let id = "evt_" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
                changes.events.append(
                    EventDraft(
                        id: id, time: time, type: "task.succeeded", actor: "engine", tenant: "default",
                        subject: "run_bench/t\(index % 1000)",
                        data: ["attempt": 1], payloads: ["output": ["n": .number(Number(index))]]))
            }
            let started = ContinuousClock.now
            try await store.commit(changes)
            appendSeconds += seconds(ContinuousClock.now - started)
            written += changes.events.count
        }
        let verifyStart = ContinuousClock.now
        let report = try await LedgerVerifier(store: store, verifier: nil).verify()
        let verifySeconds = seconds(ContinuousClock.now - verifyStart)
        guard report.problem == nil, report.events == count else {
            throw CLIError.operational("benchmark ledger did not verify: \(report.problem?.description ?? "count")")
        }
        var generator = SystemRandomNumberGenerator()
        var inclusion: [Double] = []
        var consistency: [Double] = []
        for _ in 0..<101 {
            let index = Int.random(in: 0..<count, using: &generator)
            let start = ContinuousClock.now
            _ = try await store.inclusionProof(index: index, size: count)
            inclusion.append(seconds(ContinuousClock.now - start))
            let old = Int.random(in: 1...count, using: &generator)
            let second = ContinuousClock.now
            _ = try await store.consistencyProof(from: old, to: count)
            consistency.append(seconds(ContinuousClock.now - second))
        }
        let (appendRate, verifyRate) = (Double(count) / appendSeconds, Double(count) / verifySeconds)
        let reference = try BenchReference.measure()
        let inclusionMs = inclusion.sorted()[50] * 1000
        let consistencyMs = consistency.sorted()[50] * 1000
        let result: JSONValue = [
            "workload": "ledger", "events": .number(Number(count)),
            "appends_per_second": .number(Number(Int(Double(count) / appendSeconds))),
            "verify_events_per_second": .number(Number(Int(Double(count) / verifySeconds))),
            "inclusion_proof_ms": .number(Number(parsing: String(format: "%.3f", inclusionMs))!),
            "consistency_proof_ms": .number(Number(parsing: String(format: "%.3f", consistencyMs))!),
            "peak_rss_mb": .number(Number(PeakMemory.megabytes())),
            "reference": reference.json,
            "appends_per_raw_insert": BenchReference.number(appendRate / reference.insertsPerSecond, digits: 3),
            "verified_per_sha256": BenchReference.number(verifyRate / reference.hashesPerSecond, digits: 3),
        ]
        if json {
            print(result.jsonText)
        } else {
            print(
                "ledger: \(count) events appended at \(Int(appendRate))/s, verified at \(Int(verifyRate))/s; proofs (median of 101) inclusion \(String(format: "%.3f", inclusionMs)) ms, consistency \(String(format: "%.3f", consistencyMs)) ms"
            )
            print(reference.text)
            print(
                "ratios: appends \(String(format: "%.3f", appendRate / reference.insertsPerSecond)) of raw inserts, verify \(String(format: "%.3f", verifyRate / reference.hashesPerSecond)) of SHA-256 hashes"
            )
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        duration.timeInterval
    }
}
