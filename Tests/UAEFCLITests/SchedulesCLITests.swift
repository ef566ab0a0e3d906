import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

@Suite("uaef schedules (real processes, real SQLite files)")
struct SchedulesCLITests {
    static let workflow = """
        name: nightly
        inputs: {region: eu, as_of: null}
        tasks:
          - id: report
            agent: echo
            with: {message: "${{ inputs.region }} at ${{ inputs.as_of }}"}
        """

    static let schedules = """
        schedules:
          - name: nightly-eu
            workflow: nightly
            cron: "30 2 * * MON-FRI"
            time_zone: Europe/Berlin
            slot_input: as_of
          - name: quarter-hour
            workflow: nightly
            every: 15m
            inputs: {region: us}
        """

    func write(_ text: String, _ name: String, in directory: TemporaryDirectory) throws -> String {
        try text.write(toFile: directory.path(name), atomically: true, encoding: .utf8)
        return directory.path(name)
    }

    @Test("apply, list, show, pause, resume, trigger and remove, each with --json and exit codes that mean something")
    func lifecycle() throws {
        let directory = try TemporaryDirectory("schedules-cli")
        defer { directory.remove() }
        let store = ["--store", "sqlite:" + directory.path("s.db")]
        func uaef(_ arguments: String...) throws -> CommandResult {
            try UAEFProcess.run(arguments + store, in: directory.url)
        }
        #expect(try uaef("workflows", "register", try write(Self.workflow, "nightly.yaml", in: directory)).status == 0)
        let file = try write(Self.schedules, "schedules.yaml", in: directory)

        let applied = try uaef("schedules", "apply", file, "--json")
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(
            try applied.json()["saved"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                "nightly-eu", "quarter-hour",
            ])
        #expect(try uaef("schedules", "apply", file).stdout == "unchanged nightly-eu\nunchanged quarter-hour\n")

        let now = Date()
        let backfilled = try uaef(
            "schedules", "backfill", "quarter-hour", "--from", Timestamp.format(now.addingTimeInterval(-3_600 + 1)),
            "--to", Timestamp.format(now), "--json")
        #expect(backfilled.status == 0, "\(backfilled.stderr)")
        #expect(try backfilled.json()["created"] == 4 && backfilled.json()["slots"]?.arrayValue?.count == 4)
        let tooMany = try uaef(
            "schedules", "backfill", "quarter-hour", "--from", "2020-01-01T00:00:00Z", "--to", "2020-03-01T00:00:00Z")
        #expect(tooMany.status == 2 && tooMany.stderr.contains("more than 1000 slots"))

        let list = try uaef("schedules", "list")
        #expect(list.stdout.contains("nightly-eu    nightly  cron \"30 2 * * MON-FRI\" Europe/Berlin  next "))
        #expect(list.stdout.contains("quarter-hour  nightly  every 15m  next "))
        let shown = try uaef("schedules", "show", "nightly-eu", "--upcoming", "10").json()
        let upcoming = try #require(shown["upcoming"]?.arrayValue?.compactMap { $0.stringValue })
        #expect(upcoming.count == 10)
        // 02:30 in Berlin: 01:30Z in winter, 00:30Z in summer; never on a weekend.
        for slot in upcoming {
            #expect(slot.hasSuffix("T01:30:00.000Z") || slot.hasSuffix("T00:30:00.000Z"), "\(slot)")
            let date = try #require(Timestamp.parse(slot))
            let weekday = Calendar(identifier: .gregorian).dateComponents(
                in: TimeZone(identifier: "Europe/Berlin")!, from: date
            ).weekday
            #expect(weekday != 1 && weekday != 7, "\(slot) is on a weekend in Berlin")
        }

        #expect(try uaef("schedules", "pause", "quarter-hour", "--note", "month end").status == 0)
        let paused = try uaef("schedules", "list", "--json").json().arrayValue?.first { $0["name"] == "quarter-hour" }
        #expect(paused?["paused"] == true && paused?["note"] == "month end" && paused?["next_at"] == .null)
        #expect(try uaef("schedules", "list").stdout.contains("every 15m  paused: month end"))
        #expect(try uaef("schedules", "resume", "quarter-hour").stdout.hasPrefix("resumed quarter-hour; next "))

        let triggered = try uaef("schedules", "trigger", "nightly-eu", "--json")
        #expect(triggered.status == 0, "\(triggered.stderr)")
        let run = try #require(try triggered.json()["run_id"]?.stringValue)
        let resumed = try uaef("resume", "--json")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try uaef("runs", "show", run, "--json").json()
        #expect(report["status"] == "succeeded")
        let message = try #require(report["tasks"]?["report"]?["output"]?["message"]?.stringValue)
        #expect(message.hasPrefix("eu at 20"), "\(message)")

        for missing in [
            ["pause", "nope"], ["resume", "nope"], ["trigger", "nope"], ["remove", "nope"], ["show", "nope"],
        ] {
            let result = try UAEFProcess.run(["schedules"] + missing + store, in: directory.url)
            #expect(result.status == 2, "\(missing)")
            #expect(result.stderr.contains("nope"), "\(result.stderr)")
        }
        let bad = try write(
            "schedules:\n  - {name: x, workflow: nightly, cron: \"* * *\"}\n", "bad.yaml", in: directory)
        let refused = try uaef("schedules", "apply", bad)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("bad.yaml:2: schedules[0].cron: \"* * *\" has 3 fields"), "\(refused.stderr)")
        #expect(try uaef("schedules", "remove", "quarter-hour").stdout == "removed quarter-hour\n")
        #expect(try uaef("schedules", "list", "--json").json().arrayValue?.count == 1)
        let events = try uaef("events", "--json").stdout
        for type in [
            "schedule.saved", "schedule.paused", "schedule.resumed", "schedule.triggered", "schedule.removed",
        ] {
            #expect(events.contains("\"\(type)\""), "\(type) not in the event log")
        }
    }

    @Test("uaef worker --schedules fires a due slot and executes its run")
    func workerFires() async throws {
        let directory = try TemporaryDirectory("schedules-worker")
        defer { directory.remove() }
        let store = ["--store", "sqlite:" + directory.path("s.db")]
        #expect(
            try UAEFProcess.run(
                ["workflows", "register", try write(Self.workflow, "nightly.yaml", in: directory)] + store,
                in: directory.url
            ).status == 0)
        #expect(
            try UAEFProcess.run(
                ["schedules", "apply", try write(Self.schedules, "schedules.yaml", in: directory)] + store,
                in: directory.url
            ).status == 0)
        // The quarter-hour slot made due now, as if the quarter had passed.
        let sqlite = try SQLiteStore(path: directory.path("s.db"))
        var record = try #require(try await sqlite.schedule(named: "quarter-hour", tenant: "default"))
        let slot = Timestamp.date(milliseconds: Timestamp.milliseconds(Date()))
        record.nextAt = slot
        try await sqlite.saveSchedules([record], events: [])
        let (worker, _, stderr) = try UAEFProcess.start(["worker", "--schedules", "--json"] + store, in: directory.url)
        defer {
            worker.terminate()
            worker.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(60)
        var run: RunRecord?
        while ContinuousClock.now < deadline {
            if let last = try await sqlite.schedule(named: "quarter-hour", tenant: "default")?.lastRun,
                let current = try await sqlite.run(last, tenant: "default"), current.status.isTerminal
            {
                run = current
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let ended = try #require(
            run,
            "the worker did not fire and execute the slot within 60 s: \((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")"
        )
        #expect(ended.status == .succeeded)
        #expect(ended.inputs["region"] == "us")
        // On behalf of whoever applied the schedule (the CLI's user), its maker for maker-checker.
        #expect(ended.createdBy?.hasPrefix("cli:") == true, "\(ended.createdBy ?? "nil")")
    }
}
