import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// `uaef monitor` as people use it: in a real terminal (tmux), keys sent and the screen read back.
@Suite("uaef monitor")
struct MonitorTests {
    let console = ConsoleBrowserTests()

    /// Runs `tmux` with `arguments`; its output.
    @discardableResult
    func tmux(_ arguments: String...) async throws -> String {
        let (status, output) = try await ExternalProcess.run(["tmux"] + arguments, withErrors: true)
        #expect(status == 0, "tmux \(arguments.joined(separator: " ")): \(output)")
        return output
    }

    /// Captures the pane until `condition` holds (20 s at most); the last capture.
    func screen(_ session: String, until condition: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        var text = ""
        while ContinuousClock.now < deadline {
            text = try await tmux("capture-pane", "-p", "-t", session)
            if condition(text) { return text }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the screen never showed what was expected:\n\(text)")
        return text
    }

    /// A server with one run that sleeps for ten minutes; the run's id and a token file.
    func withSleepingRun(_ body: (String, String, String) async throws -> Void) async throws {
        try await console.withServer { base, tokens, directory in
            let token = try #require(tokens["operator"])
            try await console.register(
                "name: nap\ntasks:\n  - {id: doze, agent: sleep, with: {duration: 10m}}", base: base, token: token)
            let run = try #require(
                try await console.serve.send(.POST, base + "/v1/runs", token: token, body: #"{"workflow":"nap"}"#)[
                    "run_id"]?.stringValue)
            let tokenFile = directory.path("token")
            try Data(token.utf8).write(to: URL(fileURLWithPath: tokenFile))
            try await body(base, run, tokenFile)
        }
    }

    @Test(
        "in tmux: runs live with progress and the selected run's tasks; c then y cancels the selected run, f filters, q quits and gives the terminal back"
    )
    func terminal() async throws {
        try await withSleepingRun { base, run, tokenFile in
            let session = "uaef-monitor-\(UUID().uuidString.prefix(8))"
            try await tmux(
                "new-session", "-d", "-s", session, "-x", "150", "-y", "40",
                "'\(Fixtures.binary.path)' monitor --server \(base) --token-file '\(tokenFile)' --interval 200ms; echo MONITOR-EXIT=$?; sleep 60"
            )
            defer {
                try? ChildProcess.run(
                    URL(fileURLWithPath: "/usr/bin/env"), arguments: ["tmux", "kill-session", "-t", session]
                )
                .waitUntilExit()
            }
            let live = try await screen(session) { $0.contains(run) && $0.contains("running") }
            #expect(live.contains("UAEF monitor"))
            #expect(live.contains("[----------] 0/1"), "the run's progress bar:\n\(live)")
            #expect(live.contains("doze"), "the selected run's task:\n\(live)")

            try await tmux("send-keys", "-t", session, "c")
            _ = try await screen(session) { $0.contains("press y to confirm") }
            try await tmux("send-keys", "-t", session, "y")
            let cancelled = try await screen(session) { screen in
                screen.split(separator: "\n").contains { $0.contains(run) && $0.contains("cancelled") }
            }
            #expect(cancelled.contains("cancellation of \(run) requested"))

            try await tmux("send-keys", "-t", session, "f")
            let filtered = try await screen(session) { $0.contains("running runs") }
            #expect(!filtered.split(separator: "\n").contains { $0.hasPrefix(">") && $0.contains(run) })

            try await tmux("send-keys", "-t", session, "q")
            let after = try await screen(session) { $0.contains("MONITOR-EXIT=0") }
            #expect(!after.contains("UAEF monitor"), "the alternate screen is left:\n\(after)")
        }
    }

    @Test("not on a terminal: --once prints the runs as plain text, --json one snapshot; a refused token is exit 3")
    func plain() async throws {
        try await withSleepingRun { base, run, tokenFile in
            let directory = URL(fileURLWithPath: tokenFile).deletingLastPathComponent()
            let once = try UAEFProcess.run(
                ["monitor", "--server", base, "--token-file", tokenFile, "--once"], in: directory)
            #expect(once.status == 0, "\(once.stderr)")
            #expect(once.stdout.contains("\(run) nap running 0/1"), "\(once.stdout)")
            #expect(!once.stdout.contains("\u{1B}["), "no escape codes in a pipe")
            let json = try UAEFProcess.run(
                ["monitor", "--server", base, "--token-file", tokenFile, "--json"], in: directory)
            #expect(try json.json()["runs"]?.arrayValue?.first?["run_id"]?.stringValue == run)
            let refused = try UAEFProcess.run(
                ["monitor", "--server", base, "--token", "not-a-token", "--once"], in: directory)
            #expect(refused.status == 3)
            #expect(refused.stderr.contains("401"), "\(refused.stderr)")
            let noToken = try UAEFProcess.run(["monitor", "--server", base, "--once"], in: directory)
            #expect(noToken.status == 2 && noToken.stderr.contains("give a token"), "\(noToken.stderr)")
        }
    }
}
