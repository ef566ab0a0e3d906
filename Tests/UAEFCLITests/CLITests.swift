import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

@testable import UAEFCLI

@Suite("uaef command line (real processes, real SQLite files)")
struct CLITests {
    func write(_ text: String, to name: String, in directory: TemporaryDirectory) throws -> String {
        let path = directory.path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("an invalid workflow exits 2 with every error located, and the store is left as it was")
    func validationLeavesStoreAlone() async throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let good = try write("name: ok\ntasks:\n  - {id: a, agent: noop}\n", to: "ok.yaml", in: directory)
        #expect(try UAEFProcess.run(["run", good, "--store", store], in: directory.url).status == 0)
        let before = try await SQLiteStore(path: directory.path("s.db")).events(from: 0, limit: 1000)
        let bad = try write(
            "name: bad\ntasks:\n  - {id: a, agent: noop, depends_on: [b]}\n  - {id: b, agent: nope, depends_on: [a]}\n",
            to: "bad.yaml", in: directory)
        for command in [["validate", bad], ["run", bad]] {
            let result = try UAEFProcess.run(command + ["--store", store], in: directory.url)
            #expect(result.status == 2)
            #expect(
                result.stderr.contains("bad.yaml:4: tasks[1].agent: unknown agent kind \"nope\""), "\(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
        }
        let cycle = try write(
            "name: c\ntasks:\n  - {id: a, agent: noop, depends_on: [b]}\n  - {id: b, agent: noop, depends_on: [a]}\n",
            to: "cycle.yaml", in: directory)
        let cycleResult = try UAEFProcess.run(["validate", cycle, "--store", store], in: directory.url)
        #expect(cycleResult.stderr.contains("dependency cycle: a -> b -> a"), "\(cycleResult.stderr)")
        let after = try await SQLiteStore(path: directory.path("s.db")).events(from: 0, limit: 1000)
        #expect(after == before)
        let json = try UAEFProcess.run(["validate", bad, "--json", "--store", store], in: directory.url)
        #expect(json.status == 2)
        #expect(try json.json()["valid"] == false)
    }

    @Test(
        "a command that exits at once leaves its commits in the database file, not only in the log: a copy of the file alone has the run"
    )
    func exitCheckpoints() async throws {
        let directory = try TemporaryDirectory("cli-exit")
        defer { directory.remove() }
        let workflow = try write("name: ok\ntasks:\n  - {id: a, agent: noop}\n", to: "ok.yaml", in: directory)
        let run = try UAEFProcess.run(["run", workflow, "--json", "--store", "sqlite:s.db"], in: directory.url)
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require(try run.json()["run_id"]?.stringValue)
        let log = (try? FileManager.default.attributesOfItem(atPath: directory.path("s.db-wal"))[.size] as? Int) ?? 0
        #expect(log == 0, "the log is emptied when no other connection uses it")
        try FileManager.default.createDirectory(atPath: directory.path("copy"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: directory.path("s.db"), toPath: directory.path("copy/s.db"))
        let copy = try SQLiteStore(path: directory.path("copy/s.db"))
        #expect(try await copy.run(RunID(id), tenant: "default")?.status == .succeeded)
    }

    @Test("uaef analytics counts the runs of a store no server has counted, as the API would; bad options exit 2")
    func analytics() throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = try write(Fixtures.helloWorkflow, to: "hello.yaml", in: directory)
        for _ in 0..<3 {
            #expect(try UAEFProcess.run(["run", workflow, "--store", store], in: directory.url).status == 0)
        }
        let counted = try UAEFProcess.run(["analytics", "workflows", "--json", "--store", store], in: directory.url)
        #expect(counted.status == 0, "\(counted.stderr)")
        let series = try counted.json()["series"]?.arrayValue?.first
        #expect(series?["key"] == "hello" && series?["summary"]?["succeeded"] == 3, "\(counted.stdout)")
        let text = try UAEFProcess.run(["analytics", "tasks", "--days", "1", "--store", store], in: directory.url)
        #expect(text.status == 0 && text.stdout.contains("hello/greet: 3 (3 succeeded"), "\(text.stdout)")
        for bad in [
            ["analytics", "nope"], ["analytics", "workflows", "--days", "0"], ["analytics", "rules", "--limit", "501"],
        ] {
            let refused = try UAEFProcess.run(bad + ["--store", store], in: directory.url)
            #expect(refused.status == 2, "\(bad): \(refused.stderr)")
        }
    }

    @Test("exit codes: 0 succeeded, 1 failed, 2 usage; --json prints the run with every task")
    func runExitCodes() throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = try write(
            """
            name: codes
            inputs: {should_fail: false}
            tasks:
              - {id: hello, agent: echo, with: {greeting: "hi ${{ inputs.should_fail }}"}}
              - id: maybe_fail
                agent: command
                depends_on: [hello]
                with:
                  command: [sh, -c, 'if [ "$FAIL" = true ]; then echo nope >&2; exit 3; fi; echo "{\\"ok\\": 1}"']
                  env: {FAIL: "${{ inputs.should_fail }}"}
            """, to: "codes.yaml", in: directory)
        let ok = try UAEFProcess.run(["run", workflow, "--json", "--store", store], in: directory.url)
        #expect(ok.status == 0, "\(ok.stderr)")
        let report = try ok.json()
        #expect(report["status"] == "succeeded")
        #expect(report["workflow"] == "codes")
        #expect(report["tasks"]?["hello"]?["output"] == ["greeting": "hi false"])
        #expect(report["tasks"]?["maybe_fail"]?["output"] == ["ok": 1])
        #expect(report["tasks"]?["maybe_fail"]?["attempts"] == 1)
        let runID = try #require(report["run_id"]?.stringValue)
        let events = try UAEFProcess.run(["events", "--run", runID, "--json", "--store", store], in: directory.url)
        let types = try events.stdout.split(separator: "\n").map {
            try JSONValue(jsonText: $0)["type"]?.stringValue ?? ""
        }
        #expect(types.first == "run.created")
        #expect(types.last == "run.succeeded")
        #expect(types.filter { $0 == "task.succeeded" }.count == 2)

        let failed = try UAEFProcess.run(
            ["run", workflow, "--input", "should_fail=true", "--json", "--store", store], in: directory.url)
        #expect(failed.status == 1)
        #expect(try failed.json()["tasks"]?["maybe_fail"]?["error"] == "command exited with code 3: nope")
        // One run's events only, in order, a limited number from a seq.
        let failedID = try #require(try failed.json()["run_id"]?.stringValue)
        let failedEvents = try UAEFProcess.run(
            ["events", "--run", failedID, "--json", "--store", store], in: directory.url
        ).stdout.split(separator: "\n").map { try JSONValue(jsonText: $0) }
        #expect(failedEvents.first?["type"] == "run.created" && failedEvents.last?["type"] == "run.failed")
        #expect(failedEvents.allSatisfy { $0["subject"]?.stringValue?.hasPrefix(failedID) == true })
        let seqs = failedEvents.compactMap { $0["seq"]?.numberValue?.intValue }
        #expect(seqs == seqs.sorted() && seqs.count > 3)
        let window = try UAEFProcess.run(
            ["events", "--run", failedID, "--from", "\(seqs[1])", "--limit", "2", "--json", "--store", store],
            in: directory.url
        ).stdout.split(separator: "\n").map { try JSONValue(jsonText: $0)["seq"]?.numberValue?.intValue }
        #expect(window == [seqs[1], seqs[2]])

        let unknown = try UAEFProcess.run(
            ["run", workflow, "--input", "colour=red", "--store", store], in: directory.url)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown input 'colour'; workflow codes declares: should_fail"))

        let usage = try UAEFProcess.run(["run"], in: directory.url)
        #expect(usage.status == 2)

        let list = try UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url)
        let listed = try #require(try list.json().arrayValue)
        #expect(listed.count == 2)
        // The API's run summary, with the tasks counted by status.
        #expect(listed.first?["status"] == "failed" && listed.first?["version"] == 1)
        #expect(listed.first?["task_counts"]?["total"] == 2 && listed.first?["task_counts"]?["ended"] == 2)
        #expect(listed.first?["task_counts"]?["failed"] == 1 && listed.last?["task_counts"]?["succeeded"] == 2)
        let text = try UAEFProcess.run(["runs", "list", "--store", store], in: directory.url).stdout
        #expect(text.split(separator: "\n").allSatisfy { $0.contains("  2/2 tasks  ") }, "\(text)")
        // A page at a time: --before the last id listed gives the next page.
        let first = try UAEFProcess.run(
            ["runs", "list", "--limit", "1", "--json", "--store", store], in: directory.url)
        let newest = try #require(try first.json().arrayValue?.first?["run_id"]?.stringValue)
        let next = try UAEFProcess.run(
            ["runs", "list", "--limit", "1", "--before", newest, "--json", "--store", store], in: directory.url)
        #expect(try next.json().arrayValue?.map { $0["run_id"] } == [listed.last?["run_id"]])
        for limit in ["0", "1001"] {
            let refused = try UAEFProcess.run(["runs", "list", "--limit", limit, "--store", store], in: directory.url)
            #expect(
                refused.status == 2 && refused.stderr.contains("--limit must be from 1 to 1000"), "\(refused.stderr)")
        }
    }

    @Test("agents: a capability task waits until an agent is activated from another process")
    func capabilityWaitsForActivation() throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let register = try UAEFProcess.run(
            [
                "agents", "register", "--name", "summarizer", "--kind", "echo", "--capability", "summarize", "--config",
                #"{"model": "small"}"#, "--store", store,
            ],
            in: directory.url)
        #expect(register.status == 0, "\(register.stderr)")
        let workflow = try write(
            "name: w\ntasks:\n  - {id: s, capability: summarize, with: {text: hello}}\n", to: "w.yaml", in: directory)
        let (process, stdoutURL, _) = try UAEFProcess.start(
            ["run", workflow, "--json", "--store", store], in: directory.url)
        // The run records that its task waits for an agent; only then is one activated.
        var waiting: JSONValue?
        for _ in 0..<200 where waiting == nil {
            Thread.sleep(forTimeInterval: 0.05)
            guard
                let id = try? UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url).json()
                    .arrayValue?.first?["run_id"]?.stringValue,
                let run = try? UAEFProcess.run(["runs", "show", id, "--json", "--store", store], in: directory.url)
                    .json(),
                run["tasks"]?["s"]?["status"] == "waiting"
            else { continue }
            waiting = run
        }
        let task = try #require(waiting?["tasks"]?["s"], "the task never reported waiting for an agent")
        #expect(task["reason"] == "waiting for an active agent with capability summarize to be free")
        #expect(task["attempts"] == 0 && task["agent"] == .null)
        #expect(process.isRunning, "the run waits while no agent is active")
        #expect(
            try UAEFProcess.run(["agents", "activate", "summarizer", "--store", store], in: directory.url).status == 0)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let report = try JSONValue(jsonText: try String(contentsOf: stdoutURL, encoding: .utf8))
        #expect(report["tasks"]?["s"]?["output"] == ["model": "small", "text": "hello"])
        let agents = try UAEFProcess.run(["agents", "list", "--json", "--store", store], in: directory.url).json()
        #expect(agents.arrayValue?.first?["metrics"]?["successes"] == 1)
        #expect(agents.arrayValue?.first?["status"] == "active")
        let retire = try UAEFProcess.run(["agents", "retire", "summarizer", "--store", store], in: directory.url)
        #expect(retire.status == 0)
        let reactivate = try UAEFProcess.run(["agents", "activate", "summarizer", "--store", store], in: directory.url)
        #expect(reactivate.status == 2)
        #expect(reactivate.stderr.contains("cannot go from retired to active"))
    }

    @Test("runs cancel stops a running run from another process; its sleeping attempt is cancelled")
    func cancelFromAnotherProcess() throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = try write(
            "name: slow\ntasks:\n  - {id: nap, agent: sleep, with: {duration: 30s}}\n  - {id: after, agent: noop, depends_on: [nap]}\n",
            to: "slow.yaml", in: directory)
        let (process, stdoutURL, _) = try UAEFProcess.start(
            ["run", workflow, "--json", "--store", store], in: directory.url)
        var runID: String?
        for _ in 0..<150 where runID == nil {
            Thread.sleep(forTimeInterval: 0.1)
            runID = try? UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url).json()
                .arrayValue?.first?["run_id"]?.stringValue
        }
        let id = try #require(runID)
        let started = Date()
        #expect(try UAEFProcess.run(["runs", "cancel", id, "--store", store], in: directory.url).status == 0)
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(process.terminationStatus == 1)
        let report = try JSONValue(jsonText: try String(contentsOf: stdoutURL, encoding: .utf8))
        #expect(report["status"] == "cancelled")
        #expect(report["tasks"]?["nap"]?["status"] == "cancelled")
        #expect(report["tasks"]?["after"]?["status"] == "cancelled")
    }

    @Test(
        "submit creates a pending run; runs wait times out (exit 3) until another process executes it, then prints it",
        arguments: StoreBackend.allCases)
    func submitAndWait(_ backend: StoreBackend) throws {
        let location = try TestStore(backend, label: "submit")
        defer { location.remove() }
        let directory = location.directory
        let store = location.url
        let workflow = try write(
            "name: later\ninputs: {n: 1}\ntasks:\n  - {id: a, agent: echo, with: {n: \"${{ inputs.n }}\"}}\n",
            to: "later.yaml", in: directory)
        let submit = try UAEFProcess.run(
            ["submit", workflow, "--input", "n=7", "--json", "--store", store], in: directory.url)
        #expect(submit.status == 0, "\(submit.stderr)")
        let id = try #require(try submit.json()["run_id"]?.stringValue)
        #expect(try submit.json()["status"] == "pending")
        let early = try UAEFProcess.run(
            ["runs", "wait", id, "--timeout", "200ms", "--store", store], in: directory.url)
        #expect(early.status == 3 && early.stderr.contains("still pending"))
        let (waiter, stdout, _) = try UAEFProcess.start(
            ["runs", "wait", id, "--json", "--store", store], in: directory.url)
        #expect(try UAEFProcess.run(["resume", "--store", store], in: directory.url).status == 0)
        waiter.waitUntilExit()
        #expect(waiter.terminationStatus == 0)
        let waited = try JSONValue(jsonText: String(contentsOf: stdout, encoding: .utf8))
        #expect(waited["status"] == "succeeded" && waited["tasks"]?["a"]?["output"]?["n"] == 7)
        let missing = try UAEFProcess.run(["runs", "wait", "run_none", "--store", store], in: directory.url)
        #expect(missing.status == 2)
        let verify = try UAEFProcess.run(["ledger", "verify", "--json", "--store", store], in: directory.url)
        let events = try verify.json()["events"]?.numberValue?.intValue ?? 0
        #expect(verify.status == 0 && events > 0, "\(verify.stderr)")
    }

    @Test("migrate applies PostgreSQL's migrations once, also when three nodes run it at once, and is idempotent")
    func migratePostgres() throws {
        let location = try TestStore(.postgres, label: "migrate")
        defer { location.remove() }
        let nodes = try (0..<3).map { _ in
            try UAEFProcess.start(["migrate", "--json", "--store", location.url], in: location.directory.url)
        }
        var applied: [String] = []
        for (process, stdout, stderr) in nodes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")")
            let output = try JSONValue(jsonText: String(contentsOf: stdout, encoding: .utf8))
            applied += output["applied"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        #expect(
            applied.sorted() == [
                "v10_conversations", "v11_task_checkpoints", "v12_run_trace_parent", "v13_console_indexes",
                "v14_analytics", "v15_schedules", "v16_run_retries", "v17_child_runs", "v18_remote_tasks_by_run",
                "v19_buffered_schedules", "v1_schema", "v20_detached_children", "v21_retried_by",
                "v2_lease_generations", "v3_registry",
                "v4_remote_work", "v5_secrets",
                "v6_worker_tasks",
                "v7_append_only_journal", "v8_connectors", "v9_deliveries",
            ],
            "each migration applied once, by one node")
        let again = try UAEFProcess.run(["migrate", "--store", location.url], in: location.directory.url)
        #expect(again.status == 0 && again.stdout.contains("is up to date"))
    }

    @Test("processes opening one new SQLite file at the same moment all get a migrated store", .timeLimit(.minutes(2)))
    func concurrentSQLiteOpens() throws {
        for round in 0..<5 {
            let directory = try TemporaryDirectory("sqlite-open-race")
            defer { directory.remove() }
            let store = "sqlite:" + directory.path("race.db")
            // Migrations alone, and a worker's open, which also switches the new file to WAL.
            let processes = try (0..<4).map { index in
                try UAEFProcess.start(
                    index == 0 ? ["worker", "--store", store] : ["migrate", "--store", store], in: directory.url)
            }
            for (process, _, stderr) in processes.dropFirst() {
                process.waitUntilExit()
                let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
                #expect(process.terminationStatus == 0, "round \(round): \(errors)")
            }
            let (worker, _, workerErrors) = processes[0]
            // Long enough for a busy machine to start the worker and install its signal handlers.
            usleep(800_000)
            kill(worker.processIdentifier, SIGTERM)
            worker.waitUntilExit()
            let errors = (try? String(contentsOf: workerErrors, encoding: .utf8)) ?? ""
            #expect(worker.terminationStatus == 0, "round \(round): the worker: \(errors)")
        }
    }

    @Test("a wrong PostgreSQL URL, database or port is named with the server's own reason, and exits 2 or 3")
    func postgresConnectionErrors() throws {
        let location = try TestStore(.postgres, label: "pg-errors")
        defer { location.remove() }
        let port = try PostgresTestServer.shared().port
        let cases: [(url: String, status: Int32, says: String)] = [
            ("postgres://127.0.0.1:\(port)/x", 2, "names no user"),
            ("postgres://uaef:hunter2@127.0.0.1:\(port)/x?mode=fast", 2, "unknown parameter mode=fast"),
            ("postgres://uaef@127.0.0.1:\(port)/no_such_db", 3, "database \"no_such_db\" does not exist"),
            ("postgres://uaef@127.0.0.1:\(try freeLoopbackPort())/x", 3, "cannot connect"),
        ]
        for (url, status, says) in cases {
            let result = try UAEFProcess.run(["runs", "list", "--store", url], in: location.directory.url)
            #expect(result.status == status && result.stderr.contains(says), "\(url): \(result.stderr)")
            #expect(!result.stderr.contains("hunter2"))
        }
    }

    @Test("the demo's embedded workflow and rules are the examples, and the demo runs and settles")
    func demo() throws {
        let example = try String(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("examples/invoice-processing.yaml"), encoding: .utf8
        )
        #expect(example == DemoWorkflow.text)
        let agents = try String(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("examples/agents.yaml"), encoding: .utf8)
        #expect(agents == DemoWorkflow.agents)
        let directory = try TemporaryDirectory("demo")
        defer { directory.remove() }
        let result = try UAEFProcess.run(
            ["demo", "--json", "--store", "sqlite:" + directory.path("d.db")], in: directory.url)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try result.json()
        #expect(report["tasks"]?["post_to_erp"]?["attempts"] == 2)
        #expect(report["tasks"]?["auto_approve"]?["status"] == "skipped")
        #expect(report["tasks"]?["price_line[2]"]?["output"]?["amount"] == .number(Number(parsing: "524.34")!))
        // It settles too: per line to the extraction agent, the fee, and the vendor payable after two approvals.
        let rules = try String(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("examples/invoice-settlement.yaml"), encoding: .utf8
        )
        #expect(rules == DemoWorkflow.rules)
        let store = "sqlite:" + directory.path("d.db")
        let settlements =
            try UAEFProcess.run(["settlements", "list", "--json", "--store", store], in: directory.url)
            .json().arrayValue ?? []
        #expect(Set(settlements.compactMap { $0["status"]?.stringValue }) == ["posted"])
        #expect(
            Set(settlements.compactMap { $0["amount"]?.stringValue }) == ["1.20", "31.25", "1249.90"])
        let balances = try UAEFProcess.run(["accounts", "--json", "--store", store], in: directory.url).json()
        #expect(balances["trial_balance_minor_units"] == 0)
        let payable = balances["accounts"]?.arrayValue?.first { $0["id"] == "payable:vendors" }
        #expect(payable?["posted"] == "1249.90" && payable?["pending"] == "0.00")
        let journal = try UAEFProcess.run(["journal", "--json", "--store", store], in: directory.url).json()
        // Two single-phase transfers, and the approved payable's pending transfer with its posting.
        #expect(
            journal.arrayValue?.compactMap { $0["phase"]?.stringValue } == ["posted", "posted", "pending", "posted"])
        #expect(try UAEFProcess.run(["ledger", "verify", "--store", store], in: directory.url).status == 0)
    }
}

@Suite("Agents shared by several processes")
struct SharedAgentTests {
    /// Polls the store's events until one matches, for up to ten seconds.
    func waitForEvent(in store: SQLiteStore, _ matches: (EventDraft) -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if try await store.events(from: 0, limit: 10_000).contains(where: { matches($0.event) }) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test("an agent with max_concurrency 1 busy in one process makes another process's task wait")
    func maxConcurrencyAcrossProcesses() async throws {
        let directory = try TemporaryDirectory("shared")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let release = directory.path("release")
        // The agent's work holds its only slot until the test creates the release file.
        let config = #"{"command": ["sh", "-c", "while [ ! -f \#(release) ]; do sleep 0.05; done"]}"#
        let register = try UAEFProcess.run(
            [
                "agents", "register", "--name", "holder", "--kind", "command", "--capability", "hold", "--config",
                config,
                "--activate", "--store", store,
            ],
            in: directory.url)
        #expect(register.status == 0, "\(register.stderr)")
        let workflow = directory.path("hold.yaml")
        try "name: hold\ntasks:\n  - {id: h, capability: hold}\n".write(
            toFile: workflow, atomically: true, encoding: .utf8)
        let sqlite = try SQLiteStore(path: directory.path("s.db"))

        // Given one process executing an attempt on the agent,
        let (first, _, _) = try UAEFProcess.start(["run", workflow, "--store", store], in: directory.url)
        #expect(try await waitForEvent(in: sqlite) { $0.type == "task.started" })
        // when a second process needs the same agent, its task waits,
        let (second, _, _) = try UAEFProcess.start(["run", workflow, "--store", store], in: directory.url)
        #expect(try await waitForEvent(in: sqlite) { $0.type == "task.waiting" })
        // then runs once the first attempt has ended.
        _ = FileManager.default.createFile(atPath: release, contents: nil)
        first.waitUntilExit()
        second.waitUntilExit()
        #expect(first.terminationStatus == 0 && second.terminationStatus == 0)
        let events = try await sqlite.events(from: 0, limit: 1000)
        let starts = events.filter { $0.event.type == "task.started" }
        let ends = events.filter { $0.event.type == "task.succeeded" }
        #expect(starts.count == 2 && ends.count == 2)
        #expect(starts[1].seq > ends[0].seq, "the second attempt started only after the first ended")
    }
}
