import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore
import UAEFStorePostgres
import UAEFTestSupport

@Suite("Workers and servers that serve capabilities (real processes on real PostgreSQL and SQLite)")
struct CapabilityWorkerTests {
    /// Each task appends the pid of the process that ran its command (the worker) and its name.
    static let workflow = """
        name: pipeline
        tasks:
          - id: prepare
            capability: cpu
            with: {command: [sh, -c, 'echo "$PPID prepare" >> "$LOG"'], env: {LOG: "${{ inputs.log }}"}}
          - id: train
            capability: gpu
            depends_on: [prepare]
            with: {command: [sh, -c, 'echo "$PPID train" >> "$LOG"'], env: {LOG: "${{ inputs.log }}"}}
          - id: report
            capability: cpu
            depends_on: [train]
            with: {command: [sh, -c, 'echo "$PPID report" >> "$LOG"'], env: {LOG: "${{ inputs.log }}"}}
        inputs: {log: ""}
        """

    static let agents = """
        agents:
          - {name: cpu-box, kind: command, capabilities: [cpu], max_concurrency: 8, activate: true}
          - {name: gpu-box, kind: command, capabilities: [gpu], max_concurrency: 8, activate: true}
        """

    @Test(
        "each attempt runs on a worker that serves its task's capability, whichever worker orchestrates the run; each task once; the ledger verifies"
    )
    func attemptsFollowCapabilities() async throws {
        let server = try PostgresTestServer()
        defer { try? server.remove() }
        let directory = try TemporaryDirectory("capability-workers")
        defer { directory.remove() }
        let store = try server.makeDatabase()
        let common = ["--store", store, "--ledger-key", directory.path("ledger.key")]
        try Self.workflow.write(toFile: directory.path("pipeline.yaml"), atomically: true, encoding: .utf8)
        try Self.agents.write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
        #expect(try UAEFProcess.run(["migrate"] + common, in: directory.url).status == 0)
        let registered = try UAEFProcess.run(
            ["agents", "register", "--file", "agents.yaml"] + common, in: directory.url)
        #expect(registered.status == 0, "\(registered.stderr)")

        let (cpuWorker, cpuOut, cpuErr) = try UAEFProcess.start(
            ["worker", "--allow-command", "--capability", "cpu", "--json"] + common, in: directory.url)
        let (gpuWorker, gpuOut, gpuErr) = try UAEFProcess.start(
            ["worker", "--allow-command", "--capability", "gpu", "--json"] + common, in: directory.url)
        defer {
            for worker in [cpuWorker, gpuWorker] where worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        }

        var logs: [String: String] = [:]
        for index in 0..<6 {
            let log = directory.path("run\(index).log")
            let submitted = try UAEFProcess.run(
                ["submit", "pipeline.yaml", "--input", "log=\(log)"] + common, in: directory.url)
            #expect(submitted.status == 0, "\(submitted.stderr)")
            logs[submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)] = log
        }
        for id in logs.keys {
            let waited = try UAEFProcess.run(
                ["runs", "wait", id, "--timeout", "60s", "--json"] + common, in: directory.url)
            let stderr = [cpuErr, gpuErr].compactMap { try? String(contentsOf: $0, encoding: .utf8) }.joined()
            #expect(try waited.json()["status"] == "succeeded", "\(waited.stdout) \(waited.stderr) \(stderr)")
        }
        for worker in [cpuWorker, gpuWorker] {
            kill(worker.processIdentifier, SIGTERM)
            worker.waitUntilExit()
            #expect(worker.terminationStatus == 0)
        }

        let cpu = String(cpuWorker.processIdentifier)
        let gpu = String(gpuWorker.processIdentifier)
        for (id, log) in logs {
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines == ["\(cpu) prepare", "\(gpu) train", "\(cpu) report"], "\(id)")
        }
        // Every run needed both workers, so each executed attempts queued by the other's runs.
        let executedForOthers = try [cpuOut, gpuOut].map { output in
            try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONValue(jsonText: String($0)) }
                .filter { $0["outcome"] == "succeeded" }
        }
        #expect(executedForOthers.joined().count >= logs.count)

        let postgres = try await PostgresStore.connect(try PostgresURL(store))
        for id in logs.keys {
            let snapshot = try #require(try await postgres.snapshot(of: RunID(id), tenant: "default"))
            for task in snapshot.tasks {
                let succeeded = snapshot.attempts.filter { $0.key == task.key && $0.status == .succeeded }
                #expect(succeeded.count == 1, "\(id) \(task.key)")
            }
        }
        await postgres.close()
        let verify = try UAEFProcess.run(["ledger", "verify"] + common, in: directory.url)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    @Test(
        "uaef serve --capability cpu runs the cpu attempts of the runs it starts and queues the gpu ones for a worker, whose attempt spans join the trace of the request that started the run"
    )
    func serverQueuesOtherCapabilities() async throws {
        let directory = try TemporaryDirectory("capability-serve")
        defer { directory.remove() }
        let collector = try OTLPCollector()
        defer { collector.stop() }
        let tracing = ["OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"]
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        try Self.agents.write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
        let registered = try UAEFProcess.run(
            ["agents", "register", "--file", "agents.yaml"] + store, in: directory.url)
        #expect(registered.status == 0, "\(registered.stderr)")
        let serve = ServeCLITests()
        let (server, port, _) = try await serve.startServer(
            ["--allow-command", "--capability", "cpu"] + store, in: directory, environment: tracing)
        let (worker, _, workerErr) = try UAEFProcess.start(
            ["worker", "--allow-command", "--capability", "gpu"] + store, in: directory.url, environment: tracing)
        defer {
            for process in [server, worker] where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let base = "http://127.0.0.1:\(port)"
        _ = try await serve.send(.POST, base + "/v1/workflows", token: "unused", body: Self.workflow)
        var logs: [String: String] = [:]
        for index in 0..<3 {
            let log = directory.path("run\(index).log")
            let body = JSONValue.object(["workflow": "pipeline", "inputs": ["log": .string(log)]]).jsonText
            // Each run in a trace of its own, the caller's span its root (W3C traceparent).
            let started = try await serve.send(
                .POST, base + "/v1/runs", token: "unused", body: body,
                headers: ["traceparent": "00-\(Self.trace(index))-00f067aa0ba902b7-01"])
            logs[try #require(started["run_id"]?.stringValue, "\(started)")] = log
        }
        for id in logs.keys {
            let ended = try await serve.waitForRun(base + "/v1/runs/\(id)", token: "unused") {
                $0["status"] != "pending" && $0["status"] != "running"
            }
            let errors = (try? String(contentsOf: workerErr, encoding: .utf8)) ?? ""
            #expect(ended["status"] == "succeeded", "\(ended) \(errors)")
        }
        for (id, log) in logs {
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            let (serving, working) = (server.processIdentifier, worker.processIdentifier)
            #expect(lines == ["\(serving) prepare", "\(working) train", "\(serving) report"], "\(id)")
        }
        for process in [server, worker] {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        // The worker's attempt of `train` is in each run's trace, under the request that created
        // the run, beside the server's run span with the other attempts.
        for index in 0..<3 {
            let spans = try await collector.spans(of: Self.trace(index)) { spans in
                spans.contains { $0.name == "attempt train" }
            }
            let request = try #require(spans.first("/v1/runs", parent: "00f067aa0ba902b7"), "\(spans)")
            let train = try #require(spans.first("attempt train", parent: request.id), "\(spans)")
            #expect(train.attribute("uaef.attempt.status") == "succeeded")
            let run = try #require(spans.first("run pipeline", parent: request.id), "\(spans)")
            #expect(spans.first("attempt prepare", parent: run.id) != nil, "\(spans)")
        }
    }

    /// The trace id of the `index`th run.
    static func trace(_ index: Int) -> String { "4bf92f3577b34da6a3ce929d0e0e473\(index)" }
}

@Suite("Lease duration (--lease), with real processes")
struct LeaseOptionTests {
    @Test("a stalled worker's run is taken over once its --lease expires, long before the 15 s default")
    func stalledWorkerIsTakenOver() async throws {
        let directory = try TemporaryDirectory("lease")
        defer { directory.remove() }
        let (began, done) = (directory.path("began"), directory.path("done"))
        let store = ["--store", "sqlite:" + directory.path("u.db"), "--lease", "2s"]
        try """
        name: stall
        tasks:
          - id: work
            agent: command
            retry: {max_attempts: 2, backoff: 10ms}
            with: {command: [sh, -c, 'if [ -f \(began) ]; then echo taken-over > \(done); else touch \(began); sleep 600; fi']}
        """.write(toFile: directory.path("stall.yaml"), atomically: true, encoding: .utf8)
        let (first, _, firstErr) = try UAEFProcess.start(["worker", "--allow-command"] + store, in: directory.url)
        defer { kill(first.processIdentifier, SIGKILL) }
        let submitted = try UAEFProcess.run(["submit", "stall.yaml"] + store, in: directory.url)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: began), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(
            FileManager.default.fileExists(atPath: began),
            "the first worker never started the task: \((try? String(contentsOf: firstErr, encoding: .utf8)) ?? "")")
        // A second worker, started before the first stalls so that its start-up is not timed;
        // the first holds the run's lease while it lives.
        let (second, _, _) = try UAEFProcess.start(["worker", "--allow-command"] + store, in: directory.url)
        defer { kill(second.processIdentifier, SIGKILL) }
        // The first worker stalls (alive, so its lease is honoured until it expires).
        kill(first.processIdentifier, SIGSTOP)
        let stalled = Date()
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let waited = try await ExternalProcess.run(
            [Fixtures.binary.path, "runs", "wait", id, "--timeout", "90s", "--json"] + store)
        #expect(try JSONValue(jsonText: waited.output)["status"] == "succeeded", "\(waited.output)")
        // The first attempt sleeps ten minutes: only the second worker's attempt can end the run.
        let events = try await ExternalProcess.run(
            [Fixtures.binary.path, "events", "--json", "--limit", "100000"] + store.prefix(2))
        #expect(FileManager.default.fileExists(atPath: done), "\(events.output)")
        // Timed by the ledger, not the test's clock: the second attempt started at the 2 s lease
        // (plus a poll), not at the 15 s default.
        let retried = events.output.split(separator: "\n").compactMap { try? JSONValue(jsonText: $0) }.first {
            $0["type"] == "task.started" && $0["data"]?["attempt"] == 2
        }
        let startedAt = try #require(retried?["time"]?.stringValue.flatMap(Timestamp.parse))
        #expect(startedAt.timeIntervalSince(stalled) < 12, "taken over at the 2 s lease, not the 15 s default")
        kill(second.processIdentifier, SIGTERM)
        second.waitUntilExit()
    }
}
