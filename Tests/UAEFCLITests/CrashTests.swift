import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

@Suite("Crash recovery (SIGKILL a real uaef run, then uaef resume)")
struct CrashTests {
    /// 12 command tasks in a small DAG, each appending its key to a file, with the default retry
    /// policy (one attempt): an attempt cut off by a crash is the platform's failure, not the
    /// task's, and must not spend it.
    static let workflow = """
        name: crashy
        concurrency: 4
        tasks:
          - id: start
            agent: command
            with: {command: [sh, -c, 'echo start >> "$LOG"; sleep 0.05'], env: {LOG: "${{ inputs.log }}"}}
          - id: fan
            agent: command
            depends_on: [start]
            for_each: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
            with: {command: [sh, -c, 'echo "fan[$I]" >> "$LOG"; sleep 0.05'], env: {LOG: "${{ inputs.log }}", I: "${{ index }}"}}
          - id: finish
            agent: command
            depends_on: [fan]
            with: {command: [sh, -c, 'echo finish >> "$LOG"'], env: {LOG: "${{ inputs.log }}"}}
        inputs: {log: ""}
        """

    @Test(
        "a command's program dies with its uaef run, even by kill -9: it never finishes its effect after its attempt was cut off"
    )
    func programDiesWithItsRunner() async throws {
        let directory = try TemporaryDirectory("orphan")
        defer { directory.remove() }
        // The program records its pid, then writes its effect once the file `go` appears.
        let workflow = """
            name: slow
            tasks:
              - id: slow
                agent: command
                with: {command: [sh, -c, 'echo $$ > pid; until [ -f go ]; do sleep 0.05; done; touch effect']}
            """
        try workflow.write(toFile: directory.path("slow.yaml"), atomically: true, encoding: .utf8)
        let (process, _, _) = try UAEFProcess.start(
            ["run", "slow.yaml", "--store", "sqlite:" + directory.path("u.db")], in: directory.url)
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? String(contentsOfFile: directory.path("pid"), encoding: .utf8))?.hasSuffix("\n") != true
            && ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        let pid = try #require(
            Int32(
                (try String(contentsOfFile: directory.path("pid"), encoding: .utf8)).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        // Given the runner killed while its program waits, when the program would go on:
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = FileManager.default.createFile(atPath: directory.path("go"), contents: nil)
        try await Task.sleep(for: .seconds(1))
        // Then it is gone and did nothing.
        #expect(!FileManager.default.fileExists(atPath: directory.path("effect")))
        // Gone, or a zombie nobody reaped yet (state Z in /proc).
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?
            .split(separator: " ").first
        #expect(state == nil || state == "Z", "the program \(pid) outlived its runner (state \(state ?? ""))")
    }

    @Test(
        "after kill -9 at random moments, resume finishes the run: every task succeeded exactly once, every side effect happened"
    )
    func killAndResume() async throws {
        let directory = try TemporaryDirectory("crash")
        defer { directory.remove() }
        let workflowPath = directory.path("crashy.yaml")
        try Self.workflow.write(toFile: workflowPath, atomically: true, encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<5 {
            let store = "sqlite:" + directory.path("round\(round).db")
            let log = directory.path("effects\(round).log")
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let (process, _, _) = try UAEFProcess.start(
                ["run", workflowPath, "--input", "log=\(log)", "--store", store], in: directory.url)
            // Kill somewhere between "just started" and "well into the fan-out".
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...500, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal || process.terminationStatus == 0)

            // Resume, possibly crashing the resumer too, until it finishes.
            var resumed: CommandResult?
            for attempt in 0..<3 {
                if attempt < 1, Bool.random(using: &generator) {
                    let (resumer, _, _) = try UAEFProcess.start(["resume", "--store", store], in: directory.url)
                    try await Task.sleep(for: .milliseconds(Int.random(in: 50...200, using: &generator)))
                    kill(resumer.processIdentifier, SIGKILL)
                    resumer.waitUntilExit()
                    continue
                }
                resumed = try UAEFProcess.run(["resume", "--json", "--store", store], in: directory.url)
                break
            }
            let result = try #require(resumed)
            #expect(result.status == 0, "round \(round): \(result.stderr) \(result.stdout)")

            let sqlite = try SQLiteStore(path: String(store.dropFirst("sqlite:".count)))
            let runs = try await sqlite.runs(tenant: "default", matching: RunFilter(), limit: 10)
            if runs.isEmpty {
                // Killed before the run was created: nothing was committed, so nothing may have run.
                #expect(try String(contentsOfFile: log, encoding: .utf8).isEmpty)
                continue
            }
            #expect(runs.count == 1)
            #expect(runs.first?.status == .succeeded)
            let run = try #require(runs.first)
            let stored = try await sqlite.snapshot(of: run.id, tenant: "default")
            let snapshot = try #require(stored)
            let expectedKeys = ["start", "fan", "finish"] + (0..<10).map { "fan[\($0)]" }
            #expect(Set(snapshot.tasks.map(\.key)) == Set(expectedKeys))
            #expect(snapshot.tasks.allSatisfy { $0.status == .succeeded })
            for task in snapshot.tasks where task.instanceCount == nil {
                let succeeded = snapshot.attempts.filter { $0.key == task.key && $0.status == .succeeded }
                #expect(succeeded.count == 1, "\(task.key) succeeded \(succeeded.count) times")
                #expect(!snapshot.attempts.contains { $0.key == task.key && $0.status == .running })
            }
            let effects = Set(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init))
            #expect(effects == Set(["start", "finish"] + (0..<10).map { "fan[\($0)]" }), "round \(round)")
            let events = try await sqlite.events(from: 0, limit: 100_000)
            #expect(events.map(\.seq) == Array(0..<Int64(events.count)), "events are gap-free")
            let succeededEvents = events.filter { $0.event.type == "task.succeeded" }.map(\.event.subject)
            #expect(succeededEvents.count == Set(succeededEvents).count, "no task succeeded twice in the log")
        }
    }
}
