import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Measure throughput in the same durability mode as normal use (a fresh SQLite file, or --store PostgreSQL).",
        discussion: """
            Workloads:
              w1      a root noop, N noop tasks that depend on it (default 1000), one noop join after all of them
              w2      a chain of N noop tasks (default 200)
              fanout  one noop task fanned out over a list of N items (default 100000)
              ledger  append N events (default 1000000), each with an output payload, in batches of
                      10000 with durable commits (the commits are timed), verify them all, and time
                      inclusion and consistency proofs at that size
              settlement  evaluate a graduated-tier rule with a split (at least 100000 times) in memory,
                      then settle N signals (default 20000) in one durable pass: two postings each
                      (with --store PostgreSQL: in a new tenant of that database)
              webhooks  outbound: N events (default 20000) forwarded by a subscription through the
                      outbox to an in-process receiver that verifies every signature, beside a plain
                      client loop posting to it unsigned, then signed; inbound: signed messages to
                      /v1/hooks of an in-process server for --seconds (default 10), each starting a
                      run, beside POST /v1/runs driven the same way; --concurrency connections
                      (default 32)
              sqs     fill --queue-url with N messages (default 5000), then consume them with one
                      consumer, each durably starting a run before it is deleted (AWS_ACCESS_KEY_ID
                      and AWS_SECRET_ACCESS_KEY; benchmarks/sqs.sh runs it against moto beside a
                      plain boto3 loop)
              llm     N single-turn tasks (default 1000) of an llm agent fanned out from one run,
                      --concurrency in flight (default 256 here), against the fake provider in this
                      process answering after 50 ms (--latency); UAEF's time per call beyond that
                      (p50, p95, mean) and this process's CPU time per call, beside the model
                      client alone and a plain HTTP client loop calling the same fake
                      (benchmarks/llm-fake.sh measures the fake with wrk)
              erp     create N SAP supplier invoices (default 1000) through the SAP client (lookup by
                      reference, then the deep insert) against the fake S/4HANA service in this
                      process, --concurrency in flight (default 32), beside a plain HTTP client
                      sending the same requests to a fresh fake
              lambda  N cold starts (default 20) of the Lambda bootstrap (--bootstrap PATH, default
                      this binary as uaef lambda) with the api handler on the --store PostgreSQL
                      (migrated): process start to its first GET /next at a fake Runtime API in this
                      process, beside the same binary printing its help and /bin/true
              console the web console's pages on a fresh SQLite store of N runs (default 100000)
                      over 30 days, ten events each, and a run of 1000 tasks: each page 31 times
                      over loopback from uaef serve's server in this process (median, p95), beside
                      GET /healthz; and a committed event's time to an open page's live stream
              schedules  N schedules (default 1000; 1000 a tenant) whose slots fall at one instant,
                      fired by uaef serve's scheduler on a fresh SQLite file (or --store PostgreSQL):
                      the slot to each run's creation committed (p50, p99, last), the runs not executed
              slack   2N runs (N default 100) waiting at an approval task posted to a fake Slack by a
                      slack connector: N approved by pressing Approve as Slack posts it to uaef serve's
                      POST /v1/slack, --concurrency at a time (default 16), timed to the answer (the
                      decision recorded, the message updated), beside N decided by the engine directly
              templates  each built-in template filled in N times (default 1000: the workflow's YAML
                      written), beside validating what it makes; then N workflows made and registered
                      on a fresh SQLite file (p50, p99), beside the SQLite commit
              retry   a run of one task fanned out over N instances (default 1000), a tenth failing,
                      executed to its failure on a fresh SQLite file, then retried from where it
                      stopped: the reopen alone and the retry executed to its end, beside the first go
              children  a parent run whose workflow task fans out over N child runs (default 200) of a
                      one-task workflow, executed to its end on a fresh SQLite file, beside the same N
                      runs started on their own, as many at once
            Each repetition uses a new store file (or adds its runs to the --store PostgreSQL); the figures
            are medians. --workers N starts N uaef worker processes on the PostgreSQL store, which
            execute the runs (a run executes on one worker at a time; --runs R starts R runs at once). Time covers validating,
            creating and executing the run, with every state change committed and evented.
            Build with -c release for meaningful numbers.
            Every benchmark also measures, in the same invocation, this machine's reference figures (a
            fsync'd SQLite commit of one row, raw SQLite inserts a second, SHA-256 hashes of 256 bytes a
            second) and prints its figures as ratios to them, which stay comparable when the machine's
            speed wanders from day to day.
            JSON: {"workload", "tasks", "seconds", "tasks_per_second", "peak_rss_mb", "repetitions", "store",
            "workers", "runs", "reference": {"sqlite_commit_ms", "sqlite_inserts_per_second",
            "sha256_256_byte_hashes_per_second"}, "seconds_in_sqlite_commits"}; ledger and settlement
            print their own figures with "reference" and ratios.
            """)

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case w1, w2, fanout, ledger, settlement, webhooks, sqs, llm, erp, lambda, console, schedules, slack, templates,
            retry, children

        /// The engine workload, or nil for the ledger benchmark, which runs no workflow.
        var workflow: BenchWorkloads.Workflow? { BenchWorkloads.Workflow(rawValue: rawValue) }
    }

    @Argument(
        help:
            "w1, w2, fanout, ledger, settlement, webhooks, sqs, llm, erp, lambda, console, schedules, slack, templates, retry or children."
    )
    var workload: Workload
    @Option(
        help:
            "Tasks in the workload, events for ledger, cold starts for lambda, schedules for schedules, approvals pressed for slack, uses for templates, instances for retry, child runs for children (default: 1000 for w1, 200 for w2, 100000 for fanout, 1000000 for ledger, 20 for lambda, 1000 for schedules, 100 for slack, 1000 for templates and retry, 200 for children)."
    ) var tasks: Int?
    @Option(name: .customLong("repeat"), help: "Repetitions; the median is reported.") var repetitions: Int = 5
    @Option(
        help: ArgumentHelp(
            "For w1, w2, fanout and settlement: postgres://… to measure on that database (runs, or a new tenant's signals, are added to it); default a new SQLite file per repetition.",
            valueName: "url"))
    var store: String?
    @Option(help: "Execute the runs in N uaef worker processes on the --store PostgreSQL, not in this process.")
    var workers: Int = 0
    @Option(help: "Runs of the workload started at once in each repetition.") var runs: Int = 1
    @Option(help: "For webhooks: how long each inbound load lasts, in seconds.") var seconds: Int = 10
    @Option(
        help:
            "For webhooks: connections (inbound) and deliveries in flight (outbound), default 32; for llm: calls in flight, default 256; for erp: invoices in flight, default 32; for slack: presses at once, default 16."
    ) var concurrency: Int?
    @Option(help: ArgumentHelp("For sqs: the queue to fill and consume.", valueName: "url")) var queueURL: String?
    @Option(help: "For llm: how long the fake provider takes to answer (e.g. 1s; default 50ms).") var latency: String?
    @Option(help: "For sqs: the queue's region.") var region = "us-east-1"
    @Option(help: ArgumentHelp("For lambda: the bootstrap to start (default: this binary).", valueName: "path"))
    var bootstrap: String?
    @Flag(help: "Print JSON.") var json = false

    /// `--latency` as a duration from 1 ms to 60 s.
    static func latency(_ text: String) throws -> Duration {
        guard let duration = DurationText.parse(text), duration >= .milliseconds(1), duration <= .seconds(60) else {
            throw ValidationError(
                "--latency \(text): expected a duration from 1ms to 60s (\(DurationText.expectation))")
        }
        return duration
    }

    func validate() throws {
        if let latency { _ = try Self.latency(latency) }
        if workload == .sqs, queueURL == nil { throw ValidationError("sqs needs --queue-url") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be from 1 to 600") }
        if let concurrency, !(1...(workload == .llm ? 1024 : 64)).contains(concurrency) {
            throw ValidationError("--concurrency must be from 1 to \(workload == .llm ? 1024 : 64)")
        }
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
        if let tasks, tasks < 1 { throw ValidationError("--tasks must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard workers >= 0 else { throw ValidationError("--workers must be 0 or more") }
        if workers > 0 || runs > 1 {
            guard workload.workflow != nil else {
                throw ValidationError("--workers and --runs apply to w1, w2 and fanout only")
            }
        }
        if store != nil, workload.workflow == nil, ![.settlement, .lambda, .schedules].contains(workload) {
            throw ValidationError("--store applies to w1, w2, fanout, settlement, lambda and schedules only")
        }
        if workload == .lambda, !(store ?? "").hasPrefix("postgres") {
            throw ValidationError("lambda needs --store postgres://… (migrated): a Lambda function runs on PostgreSQL")
        }
        if workers > 0, !(store ?? "").hasPrefix("postgres") {
            throw ValidationError("--workers needs --store postgres://…: workers share a PostgreSQL store")
        }
    }

    func run() async throws {
        guard let workflow = workload.workflow else {
            if workload == .settlement {
                return try await SettlementBench.run(events: tasks ?? 20_000, store: store, json: json)
            }
            if workload == .sqs, let queueURL {
                return try await SQSBench.run(
                    messages: tasks ?? 5_000, queueURL: queueURL, region: region, json: json)
            }
            if workload == .webhooks {
                return try await WebhookBench.run(
                    deliveries: tasks ?? 20_000, seconds: seconds, concurrency: concurrency ?? 32, json: json)
            }
            if workload == .lambda, let store {
                return try await LambdaBench.run(
                    bootstrap: bootstrap, store: store, starts: tasks ?? 20, json: json)
            }
            if workload == .schedules {
                return try await ScheduleBench.run(
                    schedules: tasks ?? 1_000, repetitions: repetitions, store: store, json: json)
            }
            if workload == .console {
                return try await ConsoleBench.run(runs: tasks ?? 100_000, json: json)
            }
            if workload == .templates { return try await TemplateBench.run(uses: tasks ?? 1_000, json: json) }
            if workload == .retry {
                return try await RetryBench.run(instances: tasks ?? 1_000, repetitions: repetitions, json: json)
            }
            if workload == .children {
                return try await ChildRunBench.run(children: tasks ?? 200, repetitions: repetitions, json: json)
            }
            if workload == .slack {
                return try await SlackBench.run(approvals: tasks ?? 100, concurrency: concurrency ?? 16, json: json)
            }
            if workload == .erp {
                return try await ERPBench.run(invoices: tasks ?? 1_000, concurrency: concurrency ?? 32, json: json)
            }
            if workload == .llm {
                return try await LLMBench.run(
                    calls: tasks ?? 1_000, concurrency: concurrency ?? 256,
                    latency: try latency.map(Self.latency) ?? LLMBench.defaultLatency, json: json)
            }
            return try await LedgerBench.run(events: tasks ?? 1_000_000, json: json)
        }
        let (text, inputs, size) = BenchWorkloads.make(workflow, size: tasks ?? workflow.defaultSize)
        let total = size * runs
        let pool = try workers > 0 ? BenchWorkers(count: workers, store: store ?? "") : nil
        defer { pool?.stop() }
        var seconds: [Double] = []
        for repetition in 1...repetitions {
            let folder = try BenchFolder()
            defer { folder.remove() }
            let storeURL = store ?? folder.sqlite()
            let engine = try await EngineOptions.parse(["--store", storeURL]).engine()
            let start = ContinuousClock.now
            let definition = try await engine.validate(text, file: "bench-\(workload.rawValue).yaml")
            var ids: [RunID] = []
            for _ in 0..<runs {
                ids.append(
                    try await engine.submit(
                        definition, file: "bench", inputs: inputs, actor: "bench", leased: pool == nil))
            }
            let statuses =
                pool == nil
                ? try await engine.execute(
                    ids, definitions: Dictionary(uniqueKeysWithValues: ids.map { ($0, definition) }))
                : try await BenchWorkers.waitForEnd(of: ids, workflow: definition.name, engine: engine)
            let elapsed = ContinuousClock.now - start
            guard ids.allSatisfy({ statuses[$0] == .succeeded }) else {
                throw CLIError.operational("a benchmark run did not succeed: \(statuses)")
            }
            let value = elapsed.timeInterval
            seconds.append(value)
            if !json, Console.stderrIsTerminal {
                FileHandle.standardError.write(
                    Data("repetition \(repetition): \(String(format: "%.4f", value)) s\n".utf8))
            }
        }
        let median = seconds.sorted()[seconds.count / 2]
        let backend = store.map { $0.hasPrefix("postgres") ? "postgres" : "sqlite" } ?? "sqlite"
        let reference = try BenchReference.measure()
        // The run's time in fsync'd commits of this machine: the figure that survives a slow day.
        let commits = median / reference.commitSeconds
        let result: JSONValue = [
            "workload": .string(workload.rawValue), "tasks": .number(Number(total)),
            "seconds": .number(Number(parsing: String(format: "%.4f", median))!),
            "tasks_per_second": .number(Number(Int((Double(total) / median).rounded()))),
            "peak_rss_mb": .number(Number(PeakMemory.megabytes())), "repetitions": .number(Number(repetitions)),
            "store": .string(backend), "workers": .number(Number(workers)), "runs": .number(Number(runs)),
            "reference": reference.json, "seconds_in_sqlite_commits": BenchReference.number(commits, digits: 1),
        ]
        if json {
            print(result.jsonText)
        } else {
            let executor = workers > 0 ? "\(workers) workers" : "this process"
            print(
                "\(workload.rawValue) on \(backend), \(runs) run(s) by \(executor): \(total) tasks in \(String(format: "%.4f", median)) s (median of \(repetitions)) = \(Int((Double(total) / median).rounded())) tasks/s, peak RSS \(PeakMemory.megabytes()) MB"
            )
            print(reference.text)
            print("ratio: the run took \(String(format: "%.1f", commits)) SQLite commit times")
        }
    }
}

/// `uaef worker` processes for `bench --workers`: started before the first repetition, stopped
/// after the last.
struct BenchWorkers {
    private let processes: [Process]

    init(count: Int, store: String) throws {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        processes = try (0..<count).map { _ in
            let process = Process()
            process.executableURL = binary
            process.arguments = ["worker", "--store", store, "--concurrency", "64"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }
    }

    /// Polls the store until every run ended; their statuses. Only the workflow's newest run rows
    /// are read (the benchmark's own runs), not snapshots of their tasks, so polling takes little
    /// from the workers being measured.
    static func waitForEnd(of ids: [RunID], workflow: String, engine: Engine) async throws -> [RunID: RunStatus] {
        var statuses: [RunID: RunStatus] = [:]
        let wanted = Set(ids)
        while statuses.count < ids.count {
            let newest = try await engine.store.runs(
                tenant: engine.tenant, matching: RunFilter(workflow: workflow), limit: ids.count)
            for run in newest where wanted.contains(run.id) && run.status.isTerminal { statuses[run.id] = run.status }
            if statuses.count < ids.count { try await Task.sleep(for: .milliseconds(5)) }
        }
        return statuses
    }

    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
    }
}

/// The benchmark workflows.
enum BenchWorkloads {
    /// The workflow text, its input overrides and its task count.
    /// The workloads that run a workflow.
    enum Workflow: String {
        case w1, w2, fanout

        var defaultSize: Int {
            switch self {
            case .w1: 1000
            case .w2: 200
            case .fanout: 100_000
            }
        }
    }

    static func make(_ workload: Workflow, size: Int) -> (String, [String], Int) {
        switch workload {
        case .w1:
            var lines = ["name: bench-w1", "tasks:", "  - {id: root, agent: noop}"]
            for index in 0..<size { lines.append("  - {id: t\(index), agent: noop, depends_on: [root]}") }
            lines.append("  - id: join")
            lines.append("    agent: noop")
            lines.append("    depends_on: [" + (0..<size).map { "t\($0)" }.joined(separator: ", ") + "]")
            return (lines.joined(separator: "\n"), [], size + 2)
        case .w2:
            var lines = ["name: bench-w2", "tasks:", "  - {id: t0, agent: noop}"]
            for index in 1..<max(size, 1) {
                lines.append("  - {id: t\(index), agent: noop, depends_on: [t\(index - 1)]}")
            }
            return (lines.joined(separator: "\n"), [], size)
        case .fanout:
            let text = """
                name: bench-fanout
                inputs: {count: 0}
                tasks:
                  - id: items
                    agent: echo
                    with: {list: []}
                  - id: each
                    agent: noop
                    depends_on: [items]
                    for_each: ${{ tasks.items.output.list }}
                """
            let list = "[" + (0..<size).map(String.init).joined(separator: ",") + "]"
            let withList = text.replacingOccurrences(of: "with: {list: []}", with: "with: {list: \(list)}")
            return (withList, [], size + 1)
        }
    }
}

/// The process's peak resident memory.
enum PeakMemory {
    /// VmHWM from /proc/self/status, in MB; 0 where unavailable.
    static func megabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }
}
