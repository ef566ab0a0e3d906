import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFStorePostgres
import UAEFTestSupport

@Suite("Workers on PostgreSQL under faults (kill -9 workers, restart the database)")
struct WorkerFaultTests {
    static let rules = """
        accounts:
          - {id: ops, type: expense, currency: EUR}
          - {id: crew, type: liability, currency: EUR}
        rules:
          - id: per-run
            on: run.succeeded
            amount: {fixed: "1.50"}
            currency: EUR
            from: ops
            to: crew
        """

    let runCount = 12

    @Test(
        "three workers, one killed and restarted again and again, the database restarted once: every run succeeds, each task once, every effect happens, settlements once, the ledger verifies"
    )
    func killWorkersAndRestartDatabase() async throws {
        let server = try PostgresTestServer()
        defer { try? server.remove() }
        let directory = try TemporaryDirectory("workers")
        defer { directory.remove() }
        let store = try server.makeDatabase()
        let key = directory.path("ledger.key")
        let common = ["--store", store, "--ledger-key", key]
        let workflowPath = directory.path("crashy.yaml")
        // The crash test's workflow, slowed down so that every fault lands while runs execute.
        try CrashTests.workflow.replacingOccurrences(of: "sleep 0.05", with: "sleep 0.3")
            .write(toFile: workflowPath, atomically: true, encoding: .utf8)
        let rulesPath = directory.path("rules.yaml")
        try Self.rules.write(toFile: rulesPath, atomically: true, encoding: .utf8)
        #expect(try UAEFProcess.run(["migrate"] + common, in: directory.url).status == 0)
        #expect(try UAEFProcess.run(["rules", "load", rulesPath] + common, in: directory.url).status == 0)
        #expect(try UAEFProcess.run(["ledger", "key"] + common, in: directory.url).status == 0)

        var logs: [String: String] = [:]
        for index in 0..<runCount {
            let log = directory.path("effects\(index).log")
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let submit = try UAEFProcess.run(
                ["submit", workflowPath, "--input", "log=\(log)"] + common, in: directory.url)
            #expect(submit.status == 0, "\(submit.stderr)")
            logs[submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines)] = log
        }

        // The faults are timed on a thread of their own, so that they land while runs execute
        // however busy the rest of the test process is.
        let (workers, stderrFiles, faultsWhileRunning) = try await onOwnThread {
            var stderrFiles: [URL] = []
            func startWorker() throws -> ChildProcess {
                let (process, _, stderr) = try UAEFProcess.start(
                    ["worker", "--allow-command", "--concurrency", "3"] + common, in: directory.url)
                stderrFiles.append(stderr)
                return process
            }
            var workers = try (0..<3).map { _ in try startWorker() }
            var generator = SystemRandomNumberGenerator()
            var faultsWhileRunning = 0
            // No worker outlives a failed test.
            var succeeded = false
            defer { if !succeeded { for worker in workers { kill(worker.processIdentifier, SIGKILL) } } }
            for round in 0..<5 {
                usleep(UInt32.random(in: 150_000...500_000, using: &generator))
                let unfinished = try server.query(
                    "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')", in: store)
                if unfinished != "0" { faultsWhileRunning += 1 }
                if round == 2 {
                    // The database goes away mid-run; workers retry with backoff and carry on.
                    try server.stop()
                    usleep(800_000)
                    try server.start()
                    continue
                }
                let victim = Int.random(in: 0..<workers.count, using: &generator)
                kill(workers[victim].processIdentifier, SIGKILL)
                workers[victim].waitUntilExit()
                workers[victim] = try startWorker()
            }
            succeeded = true
            return (workers, stderrFiles, faultsWhileRunning)
        }
        defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        #expect(faultsWhileRunning == 5, "every fault should land while runs execute")
        let postgres = try await PostgresStore.connect(try PostgresURL(store))
        let deadline = ContinuousClock.now + .seconds(120)
        var runs: [RunRecord] = []
        while ContinuousClock.now < deadline {
            runs = try await postgres.runs(tenant: "default", matching: RunFilter(), limit: 100)
            if runs.count == runCount && runs.allSatisfy({ $0.status.isTerminal }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Settlement and signing happen after each batch; give the last ones a moment, then stop.
        try await Task.sleep(for: .milliseconds(500))
        // No worker gave up when the database went away (their warnings say what they rode out).
        let warnings = try stderrFiles.map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        let allRunning = workers.allSatisfy { $0.isRunning }
        #expect(allRunning, "\(warnings)")
        for worker in workers {
            // A worker stops on SIGTERM (even though this thread blocks it: uaef unblocks it at start).
            kill(worker.processIdentifier, SIGTERM)
            worker.waitUntilExit()
            #expect(worker.terminationStatus == 0 && worker.terminationReason == .exit)
        }
        #expect(runs.count == runCount && runs.allSatisfy { $0.status == .succeeded }, "\(runs.map(\.status))")

        let expectedEffects = Set(["start", "finish"] + (0..<10).map { "fan[\($0)]" })
        for run in runs {
            let snapshot = try #require(try await postgres.snapshot(of: run.id, tenant: "default"))
            #expect(snapshot.tasks.allSatisfy { $0.status == .succeeded })
            for task in snapshot.tasks where task.instanceCount == nil {
                let succeeded = snapshot.attempts.filter { $0.key == task.key && $0.status == .succeeded }
                #expect(succeeded.count == 1, "\(run.id) \(task.key) succeeded \(succeeded.count) times")
            }
            let log = try #require(logs[run.id.rawValue])
            let effects = Set(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init))
            #expect(effects == expectedEffects, "\(run.id)")
        }
        // Settle whatever the last worker stopped before settling; then exactly one per run.
        #expect(try UAEFProcess.run(["settle", "run"] + common, in: directory.url).status == 0)
        let settlements = try await postgres.settlements(tenant: "default", status: nil, before: nil, limit: 100)
        #expect(settlements.count == runCount && Set(settlements.map(\.triggerSeq)).count == runCount)
        #expect(settlements.allSatisfy { $0.status == .posted })
        let events = try await postgres.events(from: 0, limit: 100_000)
        #expect(events.map(\.seq) == Array(0..<Int64(events.count)), "events are gap-free")
        let verify = try UAEFProcess.run(["ledger", "verify"] + common, in: directory.url)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        await postgres.close()
    }
}

@Suite("Long-running processes wait for a database that is down")
struct WaitingForDatabaseTests {
    @Test("a worker started while PostgreSQL is down waits (with warnings) and executes runs once it is up")
    func workerWaitsForDatabase() async throws {
        let server = try PostgresTestServer()
        defer { try? server.remove() }
        let directory = try TemporaryDirectory("waiting-worker")
        defer { directory.remove() }
        let store = try server.makeDatabase()
        let common = ["--store", store, "--ledger-key", directory.path("ledger.key")]
        #expect(try UAEFProcess.run(["migrate"] + common, in: directory.url).status == 0)
        try server.stop()
        let (worker, stdout, stderr) = try UAEFProcess.start(
            ["worker", "--allow-command", "--json"] + common, in: directory.url)
        defer {
            if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        }
        try await Task.sleep(for: .seconds(1))
        #expect(worker.isRunning, "\((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")")
        #expect((try String(contentsOf: stderr, encoding: .utf8)).contains("retrying in"))

        try server.start()
        try "name: quick\ntasks:\n  - id: only\n    agent: noop\n".write(
            toFile: directory.path("quick.yaml"), atomically: true, encoding: .utf8)
        let submitted = try UAEFProcess.run(["submit", "quick.yaml"] + common, in: directory.url)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let waited = try UAEFProcess.run(
            ["runs", "wait", id, "--timeout", "30s", "--json"] + common, in: directory.url)
        #expect(try waited.json()["status"] == "succeeded", "\(waited.stdout) \(waited.stderr)")
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        #expect(worker.terminationStatus == 0)
        #expect((try String(contentsOf: stdout, encoding: .utf8)).contains(id))
    }

    @Test(
        "a worker or server stopped (SIGTERM) while it still waits for the database exits 0 at once",
        arguments: [["worker"], ["serve", "--port", "0"]])
    func stopsWhileWaiting(command: [String]) async throws {
        let server = try PostgresTestServer()
        defer { try? server.remove() }
        let directory = try TemporaryDirectory("stopped-waiting-worker")
        defer { directory.remove() }
        let store = try server.makeDatabase()
        try server.stop()
        let (worker, _, stderr) = try UAEFProcess.start(command + ["--store", store], in: directory.url)
        defer {
            if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        }
        try await Task.sleep(for: .milliseconds(800))
        #expect((try String(contentsOf: stderr, encoding: .utf8)).contains("retrying in"))
        let stopped = ContinuousClock.now
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        #expect(worker.terminationReason == .exit && worker.terminationStatus == 0)
        #expect(ContinuousClock.now - stopped < .seconds(5))
    }
}
