import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UAEFCore
import UAEFEngine
import UAEFStore

/// `uaef bench console`: the console's pages on a large store. A fresh SQLite store is filled with
/// `runs` runs over the last 30 days (ten events each, one run in ten failed, their attempts by
/// eight agents) and one run of 1,000 tasks; the analytics roll-up counts the whole log (timed);
/// then `uaef serve`'s server in this process answers each page 31 times over loopback (median
/// and p95 of the time to the whole page), beside `GET /healthz` (the HTTP floor); and a
/// committed event is timed until an open page's live stream delivers it.
enum ConsoleBench {
    static let bigTasks = 1_000

    static func run(runs: Int, json: Bool) async throws {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let engine = try await folder.engine("console.db")
        let fillStart = ContinuousClock.now
        let (sample, big) = try await fill(engine.store, runs: runs)
        let fillSeconds = (ContinuousClock.now - fillStart).timeInterval
        if !json, Console.stderrIsTerminal {
            FileHandle.standardError.write(
                Data(
                    "filled: \(runs + 1) runs, \(try await engine.store.treeHead().size) events in \(Int(fillSeconds)) s\n"
                        .utf8))
        }
        let rollupStart = ContinuousClock.now
        let counted = try await AnalyticsRollup(store: engine.store).catchUp()
        let rollup = (events: counted, seconds: (ContinuousClock.now - rollupStart).timeInterval)

        try await BenchServer.serving(engine) { base in
            try await measure(
                base: base, engine: engine, runs: runs, sample: sample, big: big, fillSeconds: fillSeconds,
                rollup: rollup, json: json)
        }
    }

    /// Times the pages of the server at `base` and prints the figures.
    static func measure(
        base: String, engine: Engine, runs: Int, sample: RunID, big: RunID, fillSeconds: Double,
        rollup: (events: Int, seconds: Double), json: Bool
    ) async throws {
        // Without token authentication (loopback) any session is the local administrator's.
        let cookie = "uaef_session=local.bench"
        let pages: [(name: String, path: String)] = [
            ("runs list", "/runs"), ("runs list, failed only", "/runs?status=failed"),
            ("runs list, a page deep", "/runs?cursor=\(sample.rawValue)"),
            ("run of \(bigTasks) tasks", "/runs/\(big.rawValue)"), ("run of 1 task", "/runs/\(sample.rawValue)"),
            ("approvals", "/approvals"), ("agents", "/agents"), ("settlements", "/settlements"),
            ("accounts", "/accounts"), ("ledger with a proof", "/ledger?index=\(runs * 5)"),
            ("analytics: workflows, 30 days", "/analytics?dimension=workflows&days=30"),
            ("analytics: agents, 30 days", "/analytics?dimension=agents&days=30"),
            ("analytics: tasks, 24 hours", "/analytics?dimension=tasks&days=1"),
            ("GET /v1/analytics, 30 days", "/v1/analytics/agents?days=30"),
        ]
        let floor = try await timings(base + "/healthz", cookie: cookie)
        var measured: [(name: String, path: String, median: Double, p95: Double, bytes: Int)] = []
        for page in pages {
            let times = try await timings(base + page.path, cookie: cookie)
            measured.append((page.name, page.path, times.median, times.p95, times.bytes))
        }
        let live = try await liveLatency(base: base, cookie: cookie, store: engine.store, run: sample)
        let reference = try BenchReference.measure()
        let slowest = measured.map(\.median).max() ?? 0
        let result: JSONValue = [
            "workload": "console", "runs": .number(Number(runs + 1)),
            "events": .number(Number(try await engine.store.treeHead().size)),
            "pages": .array(
                measured.map {
                    [
                        "page": .string($0.name), "path": .string($0.path),
                        "median_ms": BenchReference.number($0.median * 1000, digits: 2),
                        "p95_ms": BenchReference.number($0.p95 * 1000, digits: 2), "bytes": .number(Number($0.bytes)),
                    ]
                }),
            "healthz_median_ms": BenchReference.number(floor.median * 1000, digits: 3),
            "slowest_page_median_ms": BenchReference.number(slowest * 1000, digits: 2),
            "slowest_page_per_sqlite_commit": BenchReference.number(slowest / reference.commitSeconds, digits: 2),
            "live_update_median_ms": BenchReference.number(live * 1000, digits: 2),
            "fill_seconds": BenchReference.number(fillSeconds, digits: 1),
            "analytics_rollup_events": .number(Number(rollup.events)),
            "analytics_rollup_events_per_second": BenchReference.number(
                Double(rollup.events) / max(rollup.seconds, 1e-9), digits: 0),
            "peak_rss_mb": .number(Number(PeakMemory.megabytes())), "reference": reference.json,
        ]
        if json {
            print(result.jsonText)
            return
        }
        print(
            "console: \(runs + 1) runs, \(try await engine.store.treeHead().size) events; each page 31 times over loopback"
        )
        for page in measured {
            print(
                "  \(page.name.padding(toLength: 26, withPad: " ", startingAt: 0)) median \(String(format: "%7.2f", page.median * 1000)) ms, p95 \(String(format: "%7.2f", page.p95 * 1000)) ms, \(page.bytes / 1024) KiB"
            )
        }
        print("  GET /healthz (the HTTP floor) median \(String(format: "%.3f", floor.median * 1000)) ms")
        print(
            "  the analytics roll-up counted \(rollup.events) events in \(String(format: "%.1f", rollup.seconds)) s (\(Int(Double(rollup.events) / max(rollup.seconds, 1e-9))) events/s)"
        )
        print(
            "  a committed event reaches an open page's live stream in \(String(format: "%.2f", live * 1000)) ms (median of 21)"
        )
        print(reference.text)
        print(
            "ratio: the slowest page's median is \(String(format: "%.1f", slowest / reference.commitSeconds)) SQLite commits"
        )
    }

    /// Fills `store` with `runs` small runs and one big one; a run from the middle of the list
    /// and the big run.
    static func fill(_ store: any WorkflowStore, runs: Int) async throws -> (sample: RunID, big: RunID) {
        var random = SystemRandomNumberGenerator()
        let now = Date()
        let start = now.addingTimeInterval(-30 * 86_400)
        let small = "name: bench-small\ntasks:\n  - {id: t, agent: noop}\n"
        var sample = RunID("run_")
        var index = 0
        while index < runs {
            var changes = ChangeSet()
            for number in index..<min(index + 1_000, runs) {
                let created = start.addingTimeInterval(Double(number) / Double(runs) * 30 * 86_400)
                let id = RunID.generate(at: created, using: &random)
                if number == runs / 2 { sample = id }
                let failed = number % 10 == 0
                let workflow: JSONValue = .string(number % 3 == 0 ? "invoice" : "bench-small")
                let ended = created.addingTimeInterval(2)
                changes.runs.append(
                    RunRecord(
                        id: id, tenant: "default", workflowName: workflow.stringValue ?? "",
                        workflowVersion: 1, workflowSource: small, workflowFile: "bench.yaml", inputs: [:],
                        status: failed ? .failed : .succeeded, error: failed ? "task t failed" : nil,
                        createdAt: created, updatedAt: ended, endedAt: ended, createdBy: "bench"))
                changes.tasks.append(
                    TaskRecord(
                        tenant: "default", runID: id, key: "t", taskID: "t", status: failed ? .failed : .succeeded,
                        attempts: 1, output: failed ? nil : ["n": .number(Number(number))],
                        error: failed ? "exit 1" : nil, updatedAt: ended))
                changes.attempts.append(
                    AttemptRecord(
                        tenant: "default", runID: id, key: "t", number: 1, idempotencyKey: "\(id)/t/1", agentID: nil,
                        status: failed ? .failed : .succeeded, startedAt: created.addingTimeInterval(0.1),
                        endedAt: created.addingTimeInterval(1.9), error: failed ? "exit 1" : nil))
                let types = [
                    "run.created", "run.started", "task.ready", "task.started", "attempt.started", "attempt.ended",
                    failed ? "task.failed" : "task.succeeded", "run.progress", "run.checked",
                    failed ? "run.failed" : "run.succeeded",
                ]
                for (position, type) in types.enumerated() {
                    // What the engine's events say of the ends of runs and attempts (analytics count them).
                    let data: [String: JSONValue] =
                        switch type {
                        case "task.failed", "task.succeeded":
                            [
                                "workflow": workflow, "task": "t", "agent": .string("agt_bench\(number % 8)"),
                                "duration_ms": .number(Number(1_000 + number % 1_700)), "attempt": 1,
                            ]
                        case "run.failed", "run.succeeded":
                            ["workflow": workflow, "duration_ms": .number(Number(1_200 + number % 1_900))]
                        default: ["position": .number(Number(position))]
                        }
                    changes.events.append(
                        EventDraft(
                            id: "evt_" + SortableID.make(at: created, using: &random), time: created, type: type,
                            actor: "engine", tenant: "default",
                            subject: type.hasPrefix("run.") ? id.rawValue : "\(id)/t", data: data))
                }
            }
            try await store.commit(changes)
            index += 1_000
        }
        return (sample, try await fillBig(store, at: now))
    }

    /// One run of ``bigTasks`` tasks, each depending on the task at half its index (a tree ten
    /// levels deep), all succeeded with an attempt and two events each.
    static func fillBig(_ store: any WorkflowStore, at now: Date) async throws -> RunID {
        var random = SystemRandomNumberGenerator()
        let id = RunID.generate(at: now, using: &random)
        var source = "name: bench-big\ntasks:\n"
        for task in 0..<bigTasks {
            source += "  - {id: t\(task), agent: noop\(task > 0 ? ", depends_on: [t\((task - 1) / 2)]" : "")}\n"
        }
        var changes = ChangeSet()
        changes.runs.append(
            RunRecord(
                id: id, tenant: "default", workflowName: "bench-big", workflowVersion: 1, workflowSource: source,
                workflowFile: "bench-big.yaml", inputs: [:], status: .succeeded, createdAt: now, updatedAt: now,
                endedAt: now.addingTimeInterval(5), createdBy: "bench"))
        for task in 0..<bigTasks {
            let started = now.addingTimeInterval(Double(task) * 0.004)
            changes.tasks.append(
                TaskRecord(
                    tenant: "default", runID: id, key: "t\(task)", taskID: "t\(task)", status: .succeeded, attempts: 1,
                    output: ["task": .number(Number(task))], updatedAt: started))
            changes.attempts.append(
                AttemptRecord(
                    tenant: "default", runID: id, key: "t\(task)", number: 1, idempotencyKey: "\(id)/t\(task)/1",
                    agentID: nil, status: .succeeded, startedAt: started, endedAt: started.addingTimeInterval(0.003)))
            for type in ["task.started", "task.succeeded"] {
                changes.events.append(
                    EventDraft(
                        id: "evt_" + SortableID.make(at: started, using: &random), time: started, type: type,
                        actor: "engine", tenant: "default", subject: "\(id)/t\(task)", data: [:]))
            }
        }
        try await store.commit(changes)
        return id
    }

    /// 31 GETs of `url`, one at a time: median and p95 seconds and the body's size.
    static func timings(_ url: String, cookie: String) async throws -> (median: Double, p95: Double, bytes: Int) {
        var seconds: [Double] = []
        var bytes = 0
        for _ in 0..<31 {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Cookie", value: cookie)
            let start = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 64 << 20)
            seconds.append((ContinuousClock.now - start).timeInterval)
            guard response.status == .ok else {
                throw CLIError.operational("GET \(url): \(response.status.code) \(String(buffer: body).prefix(300))")
            }
            bytes = body.readableBytes
        }
        seconds.sort()
        return (seconds[15], seconds[29], bytes)
    }

    /// The median time from committing an event of `run` to its arrival on an open page's live
    /// stream (the tenant's), over 21 events.
    static func liveLatency(base: String, cookie: String, store: any WorkflowStore, run: RunID) async throws -> Double {
        var request = HTTPClientRequest(url: base + "/console/live?from=\(try await store.treeHead().size)")
        request.headers.add(name: "Cookie", value: cookie)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        var chunks = response.body.makeAsyncIterator()
        var random = SystemRandomNumberGenerator()
        var seconds: [Double] = []
        for number in 0..<21 {
            var changes = ChangeSet()
            changes.events = [
                EventDraft(
                    id: "evt_" + SortableID.make(at: Date(), using: &random), time: Date(), type: "run.checked",
                    actor: "bench", tenant: "default", subject: run.rawValue, data: ["n": .number(Number(number))])
            ]
            let start = ContinuousClock.now
            try await store.commit(changes)
            var text = ""
            while !text.contains("\"n\"") && !text.contains("data:") {
                guard let chunk = try await chunks.next() else { throw CLIError.operational("the live stream ended") }
                text += String(buffer: chunk)
            }
            seconds.append((ContinuousClock.now - start).timeInterval)
        }
        return seconds.sorted()[10]
    }
}
