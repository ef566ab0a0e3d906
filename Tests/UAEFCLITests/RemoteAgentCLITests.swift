import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("Remote agents as real processes: the Python example and uaef agent run")
struct RemoteAgentCLITests {
    @Test("examples/remote_agent.py and uaef agent run -- python3 examples/word_count.py each complete a run's task")
    func remoteAgents() async throws {
        let directory = try TemporaryDirectory("remote-agents")
        defer { directory.remove() }
        let serve = ServeCLITests()
        // Without a token secret the server is loopback-only and treats callers as admin of 'default';
        // the agents still authenticate with their keys.
        let (server, port, _) = try await serve.startServer(
            ["--store", "sqlite:" + directory.path("u.db")], in: directory)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        let admin = "unused"
        let agents = """
            agents:
              - {name: counter, kind: remote, capabilities: [count], max_concurrency: 2, activate: true}
            """
        _ = try await serve.send(.POST, base + "/v1/agents", token: admin, body: agents)
        let key = try #require(
            try await serve.send(.POST, base + "/v1/agents/counter/keys", token: admin).objectValue?["key"]?.stringValue
        )
        let workflow = """
            name: count
            inputs: {text: "one two three"}
            tasks:
              - id: words
                capability: count
                with: {text: "${{ inputs.text }}"}
            """
        _ = try await serve.send(.POST, base + "/v1/workflows", token: admin, body: workflow)

        // The plain-Python agent.
        let first = try #require(
            try await serve.send(.POST, base + "/v1/runs", token: admin, body: #"{"workflow": "count"}"#)
                .objectValue?["run_id"]?.stringValue)
        let python = ChildProcess()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [
            "python3", Fixtures.packageRoot.appendingPathComponent("examples/remote_agent.py").path, "--once",
        ]
        python.environment = ProcessInfo.processInfo.environment.merging(["UAEF_SERVER": base, "UAEF_AGENT_KEY": key]) {
            $1
        }
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let firstEnded = try await serve.waitForRun(base + "/v1/runs/\(first)", token: admin) {
            $0.objectValue?["status"] != "pending" && $0.objectValue?["status"] != "running"
        }
        #expect(firstEnded.objectValue?["tasks"]?.objectValue?["words"]?.objectValue?["output"] == ["words": 3])

        // uaef agent run, running a command per task.
        let (agent, agentOut, agentErr) = try UAEFProcess.start(
            [
                "agent", "run", "--server", base, "--token", key, "--capability", "count", "--wait", "2s", "--json",
                "--",
                "python3", Fixtures.packageRoot.appendingPathComponent("examples/word_count.py").path,
            ], in: directory.url)
        let second = try #require(
            try await serve.send(
                .POST, base + "/v1/runs", token: admin,
                body: #"{"workflow": "count", "inputs": {"text": "a b c d e"}}"#
            ).objectValue?["run_id"]?.stringValue)
        let secondEnded = try await serve.waitForRun(base + "/v1/runs/\(second)", token: admin) {
            $0.objectValue?["status"] != "pending" && $0.objectValue?["status"] != "running"
        }
        #expect(
            secondEnded.objectValue?["status"] == "succeeded",
            "\((try? String(contentsOf: agentErr, encoding: .utf8)) ?? "")")
        #expect(
            secondEnded.objectValue?["tasks"]?.objectValue?["words"]?.objectValue?["output"] == [
                "words": 5, "task": "words",
            ])
        agent.terminate()
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let line = try String(contentsOf: agentOut, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        #expect(try JSONValue(jsonText: line).objectValue?["status"] == "succeeded")

        // A task whose run is cancelled while its command works: the next heartbeat is refused, and
        // uaef agent run stops the command and reports nothing.
        let pidFile = directory.path("slow.pid")
        let (slowAgent, slowOut, slowErr) = try UAEFProcess.start(
            [
                "agent", "run", "--server", base, "--token", key, "--capability", "count", "--wait", "2s", "--json",
                "--", "sh", "-c", "echo $$ > \(pidFile); exec sleep 120",
            ], in: directory.url)
        defer { if slowAgent.isRunning { slowAgent.terminate() } }
        let third = try #require(
            try await serve.send(.POST, base + "/v1/runs", token: admin, body: #"{"workflow": "count"}"#)
                .objectValue?["run_id"]?.stringValue)
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: pidFile) {
            guard ContinuousClock.now < deadline else {
                Issue.record("the command never started: \((try? String(contentsOf: slowErr, encoding: .utf8)) ?? "")")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = try await serve.send(.POST, base + "/v1/runs/\(third)/cancel", token: admin)
        var stopped: JSONValue?
        while stopped == nil, ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: slowOut, encoding: .utf8)) ?? ""
            stopped = text.split(separator: "\n").first.flatMap { try? JSONValue(jsonText: String($0)) }
            if stopped == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let status = stopped?.objectValue?["status"]?.stringValue ?? ""
        #expect(status.hasPrefix("stopped"), "\(status)")
        let pid = try #require(
            pid_t(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the command was stopped")
        slowAgent.terminate()
        slowAgent.waitUntilExit()

        // A wrong key is refused with exit 2 and a message, not retried forever.
        let refused = try UAEFProcess.run(
            ["agent", "run", "--server", base, "--token", "uaef_ak_wrong", "--", "true"], in: directory.url)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("unknown agent key"))
    }
}
