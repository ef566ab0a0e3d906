import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// `uaef bench schedules`: N schedules (1,000 a tenant) whose slots all fall at one instant, fired
/// by the scheduler `uaef serve` runs, on a fresh SQLite file (or the `--store` PostgreSQL): the
/// time from the slot to each slot's run being durably created (its `run.created` committed),
/// and the time until the last one was. The runs are not executed: this times the firing alone.
enum ScheduleBench {
    /// The goal: with 1,000 schedules due at once, every slot's run created within a second.
    static let goalSeconds = 1.0

    struct Figures {
        /// Per schedule, its run's creation less the slot, sorted, in seconds.
        var delays: [Double]

        func percentile(_ p: Double) -> Double {
            delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(Double(delays.count) * p))]
        }
    }

    static func run(schedules: Int, repetitions: Int, store: String?, json: Bool) async throws {
        var figures: [Figures] = []
        for _ in 0..<repetitions {
            figures.append(try await measure(schedules: schedules, store: store))
        }
        let reference = try BenchReference.measure()
        // The repetition whose p99 is the median.
        let median = figures.sorted { $0.percentile(0.99) < $1.percentile(0.99) }[figures.count / 2]
        let p50 = median.percentile(0.5)
        let p99 = median.percentile(0.99)
        let last = median.delays.last ?? 0
        let commit = reference.commitSeconds
        if json {
            return Console.printJSON([
                "workload": "schedules", "schedules": .number(Number(schedules)),
                "repetitions": .number(Number(repetitions)), "store": .string(store ?? "sqlite"),
                "p50_seconds": BenchReference.number(p50, digits: 4),
                "p99_seconds": BenchReference.number(p99, digits: 4),
                "last_seconds": BenchReference.number(last, digits: 4),
                "slots_per_second": .number(Number(Int(Double(schedules) / max(last, 0.000_001)))),
                "p99_in_sqlite_commits": BenchReference.number(p99 / commit, digits: 1),
                "goal_seconds": BenchReference.number(goalSeconds, digits: 1),
                "reference": reference.json,
            ])
        }
        func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
        print(
            """
            schedules: \(schedules) schedules due at one instant on \(store == nil ? "a fresh SQLite file" : "the --store PostgreSQL"), \
            fired by the scheduler (median of \(repetitions) by p99): slot to run created p50 \(ms(p50)), p99 \(ms(p99)), \
            last \(ms(last)) = \(Int(Double(schedules) / max(last, 0.000_001))) slots/s (goal: p99 under \(String(format: "%.0f", goalSeconds)) s for 1000)
            p99 = \(String(format: "%.0f", p99 / commit)) SQLite commits of this machine
            \(reference.text)
            """)
    }

    /// One repetition: the schedules saved, their next slot set to an instant just ahead, the
    /// scheduler started; returns once every slot's run exists.
    static func measure(schedules: Int, store url: String?) async throws -> Figures {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = try await EngineOptions.parse([
            "--store", url ?? "sqlite:" + directory.appendingPathComponent("bench.db").path,
        ]).engine()
        let prefix = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        let perTenant = ScheduleDefinition.maximumSchedules
        let tenants = (0..<(schedules + perTenant - 1) / perTenant).map { "\(prefix)-\($0)" }
        var records: [ScheduleRecord] = []
        for (index, tenant) in tenants.enumerated() {
            let engine = base.forTenant(tenant)
            _ = try await engine.register(
                "name: nightly\ninputs: {as_of: null}\ntasks:\n  - {id: work, agent: noop}\n", origin: "bench",
                actor: "bench")
            let count = min(perTenant, schedules - index * perTenant)
            let file =
                "schedules:\n"
                + (0..<count).map { "  - {name: s\($0), workflow: nightly, every: 1h, slot_input: as_of}\n" }.joined()
            records += try await ScheduleRegistry(engine: engine).apply(file, file: "bench", actor: "bench").saved
        }
        let slot = Timestamp.date(milliseconds: Timestamp.milliseconds(Date()) + 300)
        for index in records.indices { records[index].nextAt = slot }
        try await base.store.saveSchedules(records, events: [])
        let scheduler = Task { await Scheduler(engine: base, leased: false).run() }
        defer { scheduler.cancel() }
        // Done when no schedule is due at the slot any more: one cheap query, so the waiting
        // takes nothing from the scheduler it times.
        let deadline = ContinuousClock.now + .seconds(120)
        while let earliest = try await base.store.earliestScheduleSlot(), earliest <= slot {
            guard ContinuousClock.now < deadline else {
                throw CLIError.operational("the \(schedules) slots did not all fire within 120 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        var created: [Date] = []
        for tenant in tenants {
            created += try await base.store.runs(tenant: tenant, matching: RunFilter(), limit: perTenant + 1).map(
                \.createdAt)
        }
        guard created.count == schedules else {
            throw CLIError.operational("\(created.count) runs for \(schedules) slots")
        }
        return Figures(delays: created.map { $0.timeIntervalSince(slot) }.sorted())
    }
}
