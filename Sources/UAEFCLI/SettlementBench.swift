import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

/// `uaef bench settlement`: rule evaluations per second in memory, and durable postings per
/// second when a settlement pass books signals on a fresh SQLite store (or, with `--store`, in a
/// new tenant of a PostgreSQL store).
enum SettlementBench {
    static let rules = """
        accounts:
          - {id: "expense:llm", type: expense, currency: USD}
          - {id: "agent:llm", type: liability, currency: USD}
          - {id: "revenue:platform", type: revenue, currency: USD}
        rules:
          - id: tokens
            on: signal.tokens
            match: {when: "${{ event.data.tokens > 0 }}"}
            amount:
              tiered:
                mode: graduated
                quantity: "${{ event.data.tokens }}"
                tiers: [{up_to: 1000, unit: "0.002"}, {up_to: 100000, unit: "0.0015"}, {up_to: null, unit: "0.001"}]
            currency: USD
            from: "expense:llm"
            split: [{to: "agent:llm", share: "85%"}, {to: "revenue:platform", share: remaining}]
        """

    static func run(events count: Int, store: String?, json: Bool) async throws {
        let file = try RulesParser.parse(rules, file: "bench-settlement.yaml")
        let rule = file.rules[0]
        // Evaluations: match and calculate on varied triggers, in memory.
        let triggers = (0..<1_000).map { index in
            RuleTrigger(context: [
                "event": ["type": "signal.tokens", "data": ["tokens": .number(Number(index * 137 + 1))]]
            ])
        }
        let evaluations = max(count, 100_000)
        let evaluationStart = ContinuousClock.now
        for index in 0..<evaluations {
            let trigger = triggers[index % triggers.count]
            guard try rule.matches(trigger) else { continue }
            _ = try rule.calculate(trigger)
        }
        let evaluationSeconds = LedgerBench.seconds(ContinuousClock.now - evaluationStart)

        // Postings: signals appended first, then one settlement pass books them all durably.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A tenant of its own on a shared store: its cursor starts at its first event.
        let tag = UUID().uuidString.prefix(8).lowercased()
        let engine = try await EngineOptions.parse([
            "--store", store ?? "sqlite:" + directory.appendingPathComponent("s.db").path, "--tenant", "bench-\(tag)",
        ])
        .engine()
        _ = try await engine.loadRules(rules, file: "bench-settlement.yaml", actor: "bench")
        var written = 0
        while written < count {
            var changes = ChangeSet()
            let time = Date()
            for index in written..<min(written + 10_000, count) {
                changes.events.append(
                    EventDraft(
                        id: "evt_sig_\(tag)_\(index)", time: time, type: "signal.tokens", actor: "bench",
                        tenant: engine.tenant,
                        subject: "signal/tokens", data: [:],
                        payloads: ["data": ["tokens": .number(Number(index % 5000 + 1))]]))
            }
            try await engine.store.commit(changes)
            written += changes.events.count
        }
        let settleStart = ContinuousClock.now
        let report = try await engine.settle()
        let settleSeconds = LedgerBench.seconds(ContinuousClock.now - settleStart)
        let postings = try await engine.store.transfers(tenant: engine.tenant, from: 1, limit: Int.max).count
        guard report.settlements.count == count, report.settlements.allSatisfy({ $0.status == .posted }) else {
            throw CLIError.operational("benchmark settlement did not post every signal")
        }
        let (evaluationRate, postingRate) = (Double(evaluations) / evaluationSeconds, Double(postings) / settleSeconds)
        let reference = try BenchReference.measure()
        let result: JSONValue = [
            "workload": "settlement", "events": .number(Number(count)),
            "evaluations_per_second": .number(Number(Int(Double(evaluations) / evaluationSeconds))),
            "settlements_per_second": .number(Number(Int(Double(count) / settleSeconds))),
            "postings_per_second": .number(Number(Int(Double(postings) / settleSeconds))),
            "peak_rss_mb": .number(Number(PeakMemory.megabytes())),
            "reference": reference.json,
            "evaluations_per_sha256": BenchReference.number(evaluationRate / reference.hashesPerSecond, digits: 4),
            "postings_per_raw_insert": BenchReference.number(postingRate / reference.insertsPerSecond, digits: 4),
        ]
        if json {
            print(result.jsonText)
        } else {
            print(
                "settlement: \(Int(evaluationRate)) rule evaluations/s; \(count) signals settled into \(postings) durable postings at \(Int(postingRate)) postings/s (\(Int(Double(count) / settleSeconds)) settlements/s)"
            )
            print(reference.text)
            print(
                "ratios: evaluations \(String(format: "%.4f", evaluationRate / reference.hashesPerSecond)) of SHA-256 hashes, postings \(String(format: "%.4f", postingRate / reference.insertsPerSecond)) of raw inserts"
            )
        }
    }
}
