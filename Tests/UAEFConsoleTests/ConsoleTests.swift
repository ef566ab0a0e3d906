import Foundation
import Testing
import UAEFCore
import UAEFStore

@testable import UAEFConsole

@Suite("Console: pages, drawings and sessions")
struct ConsoleTests {
    /// The repository's Sources/UAEFConsole/Assets.
    static let assets = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: "Sources/UAEFConsole/Assets")

    @Test("the binary embeds the assets exactly as they are in Sources/UAEFConsole/Assets")
    func embeddedAssets() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.assets.path).sorted()
        let templates = files.filter { $0.hasSuffix(".mustache") }
        #expect(Set(templates.map { String($0.dropLast(".mustache".count)) }) == Set(ConsoleAssets.templates.keys))
        for file in templates {
            let text = try String(contentsOf: Self.assets.appending(path: file), encoding: .utf8)
            let name = String(file.dropLast(".mustache".count))
            #expect(ConsoleAssets.templates[name].map { $0 + "\n" } == text, "run scripts/embed-console")
        }
        let css = try String(contentsOf: Self.assets.appending(path: "console.css"), encoding: .utf8)
        let js = try String(contentsOf: Self.assets.appending(path: "console.js"), encoding: .utf8)
        #expect(ConsoleAssets.stylesheet + "\n" == css, "run scripts/embed-console")
        #expect(ConsoleAssets.script + "\n" == js, "run scripts/embed-console")
    }

    @Test("a task sits one column right of its deepest dependency, in the order the workflow lists it")
    func graphLayout() {
        let graph = RunGraph(nodes: [
            .init(id: "fetch", dependsOn: [], status: "succeeded"),
            .init(id: "check", dependsOn: ["fetch"], status: "succeeded"),
            .init(id: "enrich", dependsOn: [], status: "running"),
            .init(id: "post", dependsOn: ["check", "enrich", "missing"], status: "pending"),
        ])
        let layout = graph.layout()
        #expect(layout["fetch"] == .init(column: 0, row: 0))
        #expect(layout["enrich"] == .init(column: 0, row: 1))
        #expect(layout["check"] == .init(column: 1, row: 0))
        #expect(layout["post"] == .init(column: 2, row: 0))
        let svg = graph.svg()
        // Three arrows (the unknown dependency draws none); every state is written out, not only coloured.
        #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 3)
        for state in ["succeeded", "running", "pending"] { #expect(svg.contains(">\(state)</text>")) }
    }

    @Test("task names and states are escaped in the drawings")
    func drawingsEscape() {
        let svg = RunGraph(nodes: [.init(id: "<script>", dependsOn: [], status: "pending")]).svg()
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("&lt;script&gt;"))
        let start = Date(timeIntervalSince1970: 1000)
        let timeline = AttemptTimeline(
            origin: start, now: start.addingTimeInterval(4),
            bars: [
                .init(label: "a&b #1", status: "failed", start: start, end: start.addingTimeInterval(2)),
                .init(label: "a&b #2", status: "running", start: start.addingTimeInterval(2), end: nil),
            ]
        ).svg()
        #expect(timeline.contains("a&amp;b #1"))
        // The axis runs to the latest end (a running attempt's is now): each bar is half of its 640 pixels.
        #expect(timeline.contains("x=\"200\" y=\"26\" width=\"320\""))
        #expect(timeline.contains("x=\"520\" y=\"46\" width=\"320\""))
    }

    @Test("a fanned-out task shows its instances grouped under it and counted by state in its box")
    func fanOut() {
        let now = Date(timeIntervalSince1970: 2000)
        let run = RunRecord(
            id: RunID("run_1"), tenant: "t", workflowName: "w", workflowVersion: 1, workflowSource: "",
            workflowFile: "w.yaml", inputs: [:], status: .running, createdAt: now, updatedAt: now)
        func task(_ key: String, _ status: TaskStatus, index: Int? = nil, count: Int? = nil) -> TaskRecord {
            TaskRecord(
                tenant: "t", runID: run.id, key: key, taskID: "each", index: index, status: status,
                instanceCount: count, updatedAt: now)
        }
        let snapshot = RunSnapshot(
            run: run,
            tasks: [
                task("each", .running, count: 3), task("each[1]", .failed, index: 1),
                task("each[0]", .succeeded, index: 0), task("each[2]", .running, index: 2),
            ], attempts: [])
        let view = RunView(snapshot: snapshot, definition: nil, now: now, mayWriteRuns: false, csrf: "x")
        #expect(view.tasks.map(\.key) == ["each", "each[0]", "each[1]", "each[2]"])
        #expect(view.tasks.map(\.instance) == [false, true, true, true])
        #expect(view.graph.contains("3 instances: 1 running, 1 succeeded, 1 failed"))
        #expect(!view.canCancel)
    }

    @Test("a task or attempt without an error of its own never shows the run's error")
    func rowsDoNotInheritTheRunsError() {
        let now = Date(timeIntervalSince1970: 3000)
        let run = RunRecord(
            id: RunID("run_2"), tenant: "t", workflowName: "w", workflowVersion: 1, workflowSource: "",
            workflowFile: "w.yaml", inputs: [:], status: .failed, error: "the run broke", createdAt: now,
            updatedAt: now, endedAt: now)
        let tasks = [
            TaskRecord(
                tenant: "t", runID: run.id, key: "a", taskID: "a", status: .failed, error: "boom", updatedAt: now),
            TaskRecord(tenant: "t", runID: run.id, key: "b", taskID: "b", status: .skipped, updatedAt: now),
        ]
        let attempts = [
            AttemptRecord(
                tenant: "t", runID: run.id, key: "b", number: 1, idempotencyKey: "k", agentID: nil, status: .succeeded,
                startedAt: now, endedAt: now)
        ]
        let view = RunView(
            snapshot: RunSnapshot(run: run, tasks: tasks, attempts: attempts), definition: nil, now: now,
            mayWriteRuns: true, csrf: "x")
        let html = ConsoleRenderer().render("run-region", view)
        #expect(html.components(separatedBy: "the run broke").count - 1 == 1, "only the run's own notice")
        #expect(html.components(separatedBy: "boom").count - 1 == 1)
        #expect(!html.contains("Cancel run"), "an ended run cannot be cancelled")
        #expect(html.contains("action=\"/runs/run_2/retry\""), "a failed run can be retried")
        let viewOnly = RunView(
            snapshot: RunSnapshot(run: run, tasks: tasks, attempts: attempts), definition: nil, now: now,
            mayWriteRuns: false, csrf: "x")
        #expect(!ConsoleRenderer().render("run-region", viewOnly).contains("/retry"), "not without writeRuns")
    }

    @Test("the CSRF token belongs to its session and is compared whole")
    func csrf() {
        let session = ConsoleSession(value: "token-a")
        #expect(session.accepts(csrf: session.csrfToken))
        #expect(!session.accepts(csrf: ConsoleSession(value: "token-b").csrfToken))
        #expect(!session.accepts(csrf: String(session.csrfToken.dropLast())))
        #expect(!session.accepts(csrf: nil))
        #expect(ConsoleSession.local().value != ConsoleSession.local().value)
        #expect(ConsoleSession.local().isLocal)
    }

    @Test("the session cookie is HttpOnly and SameSite=Strict, Secure unless on loopback, and read back")
    func cookies() {
        let session = ConsoleSession(value: "abc.def")
        #expect(
            session.setCookie(maxAge: 60, secure: true)
                == "uaef_session=abc.def; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure")
        #expect(!session.setCookie(maxAge: 60, secure: false).contains("Secure"))
        #expect(ConsoleSession.from(cookieHeader: "a=1; uaef_session=abc.def; b=2") == session)
        #expect(ConsoleSession.from(cookieHeader: "a=1") == nil)
        #expect(ConsoleSession.isCookieSafe("eyJ.eyJ.sig_-"))
        #expect(!ConsoleSession.isCookieSafe("a;b"))
        #expect(!ConsoleSession.isCookieSafe("a b"))
    }

    @Test("forms are read with their percent-encoding, and malformed ones are refused by name")
    func forms() throws {
        let form = try ConsoleForm(body: "workflow=invoice+flow&inputs=%7B%22a%22%3A1%7D&empty=")
        #expect(form["workflow"] == "invoice flow")
        #expect(form["inputs"] == "{\"a\":1}")
        #expect(form["empty"] == nil)
        #expect(throws: ConsoleForm.Malformed.self) { try ConsoleForm(body: "a=1&a=2") }
        #expect(throws: ConsoleForm.Malformed.self) { try ConsoleForm(body: "a=%ZZ") }
        let many = (0...ConsoleForm.fieldLimit).map { "f\($0)=1" }.joined(separator: "&")
        #expect(throws: ConsoleForm.Malformed.self) { try ConsoleForm(body: many) }
    }

    @Test("analytics draw one slot per interval with titles, and escape keys in the table and the charts")
    func analytics() throws {
        let hour = AnalyticsBucketKey.hour(of: Date(timeIntervalSince1970: 1_800_000_000))
        var buckets: [AnalyticsBucket] = []
        for (offset, key) in [(0, "<b>ad</b>"), (5, "<b>ad</b>"), (2, "plain")] {
            var bucket = AnalyticsBucket(
                id: AnalyticsBucketKey(tenant: "acme", dimension: .workflows, hour: hour - 23 + Int64(offset), key: key)
            )
            bucket.total = 3
            bucket.succeeded = 2
            bucket.failed = 1
            bucket.durations.record(milliseconds: 1_500)
            buckets.append(bucket)
        }
        buckets.sort { ($0.id.key, $0.id.hour) < ($1.id.key, $1.id.hour) }
        var totals: [Int64: AnalyticsBucket] = [:]
        for bucket in buckets {
            var id = bucket.id
            id.key = AnalyticsBucketKey.all
            totals[id.hour, default: AnalyticsBucket(id: id)].merge(bucket)
        }
        let report = AnalyticsReport(
            dimension: .workflows, hours: (hour - 23)...hour, interval: .hour, buckets: buckets,
            totals: totals.values.sorted { $0.id.hour < $1.id.hour }, limit: 1)
        #expect(AnalyticsChart(report: report).slots.count == 24)
        let end = Date(timeIntervalSince1970: Double(hour) * 3600)
        let view = AnalyticsView(report: report, days: 1, end: end, countedBefore: 42, names: [:])
        #expect(view.nextHref?.contains("&interval=hour&to=") == true, "the next page covers the same range")
        #expect(
            view.rows.map(\.label) == ["<b>ad</b>"] && view.nextHref?.hasSuffix("after=%3Cb%3Ead%3C%2Fb%3E") == true)
        #expect(view.rows.first?.successRate == "66.7%" && view.rows.first?.p50 == "1.5 s")
        let html = ConsoleRenderer().render("analytics", view)
        #expect(!html.contains("<b>ad</b>") && html.contains("&lt;b&gt;ad&lt;/b&gt;"))
        #expect(
            view.outcomesChart.contains("runs per hour: 9 in all"),
            "overall counts every key: \(view.outcomesChart.prefix(300))")
        #expect(view.outcomesChart.components(separatedBy: "<title>").count - 1 == 3, "one titled bar per busy hour")
        #expect(view.durationsChart?.contains("p95") == true)
    }

    @Test("a task's page shows each attempt's input only to those who may read payloads, else its digest")
    func taskInputs() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let run = RunRecord(
            id: RunID("run_1"), tenant: "acme", workflowName: "w", workflowVersion: 1, workflowSource: "",
            workflowFile: "w.yaml", inputs: [:], status: .running, createdAt: now, updatedAt: now)
        let task = TaskRecord(tenant: "acme", runID: run.id, key: "t", taskID: "t", status: .running, updatedAt: now)
        let attempt = AttemptRecord(
            tenant: "acme", runID: run.id, key: "t", number: 1, idempotencyKey: "run_1/t/1", agentID: nil,
            status: .running, startedAt: now)
        let started = EventRecord(
            seq: 3,
            event: EventDraft(
                id: "evt_1", time: now, type: "task.started", actor: "engine", tenant: "acme", subject: "run_1/t",
                data: ["attempt": 1, "input_sha256": "abc"], payloads: ["input": ["secret": "s3cr3t"]]))
        let auditor = TaskView(
            run: run, task: task, attempts: [attempt], events: [started], now: now, ledgerLinks: true, payloads: true)
        #expect(auditor.attempts.first?.input?.contains("s3cr3t") == true)
        let viewer = TaskView(
            run: run, task: task, attempts: [attempt], events: [started], now: now, ledgerLinks: false, payloads: false)
        #expect(viewer.attempts.first?.input?.contains("s3cr3t") == false)
        #expect(viewer.attempts.first?.input?.contains("abc") == true)
        #expect(!ConsoleRenderer().render("task", viewer).contains("s3cr3t"))
    }

    @Test("settlement pages link to the older page with the last settlement shown, keeping the status filter")
    func settlementPages() {
        let first = SettlementsView(
            settlements: [["id": "stl_2"]], status: "posted", all: ["posted"], limit: 1, older: false, next: "stl_2")
        #expect(first.nextPage == "/settlements?status=posted&before=stl%5F2" && first.firstPage == nil)
        let last = SettlementsView(settlements: [], status: nil, all: [], limit: 1, older: true, next: nil)
        #expect(last.nextPage == nil && last.firstPage == "/settlements")
        #expect(ConsoleRenderer().render("settlements-region", first).contains("rel=\"next\""))
    }

    @Test("every template renders, escaping what people typed")
    func templates() {
        let renderer = ConsoleRenderer()
        let frame = ConsoleRenderer.Frame(
            title: "Runs", signedIn: true, subject: "<alice>", tenant: "acme", roles: "viewer", csrf: "c",
            path: "/runs")
        let page = renderer.page(frame, body: "<p>body</p>")
        #expect(page.contains("&lt;alice&gt;"))
        #expect(page.contains("<p>body</p>"))
        #expect(page.contains("aria-current=\"page\""))
        let now = Date()
        let runs = RunsView(
            filters: .init(workflow: "<w>"), page: [], taskCounts: [:], limit: 50, now: now, canStart: false, csrf: "c",
            workflows: [])
        #expect(renderer.render("runs", runs).contains("value=\"&lt;w&gt;\""))
        #expect(renderer.render("runs-region", runs).contains("No runs match."))
        #expect(renderer.render("login", ["next": "/runs", "message": "bad"]).contains("bad"))
        #expect(renderer.render("error", ["heading": "Not found", "detail": "run x"]).contains("run x"))
    }
}
