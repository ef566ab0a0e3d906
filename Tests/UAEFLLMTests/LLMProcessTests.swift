import Foundation
import Testing
import UAEFCore
import UAEFFakes
import UAEFLLM
import UAEFTestSupport

@Suite("llm agents in the uaef binary (real processes, the fake provider)")
struct LLMProcessTests {
    /// Registers `directory`'s agents.yaml on a new store there, starts `uaef run` of `workflow`,
    /// and SIGKILLs it `settle` after `reached` holds (failing with `never` after a minute); the
    /// store and the killed process.
    static func runThenKill(
        _ workflow: String, in directory: TemporaryDirectory, settle: Duration = .zero, _ never: String,
        reached: () -> Bool
    ) async throws -> (store: String, process: ChildProcess) {
        let store = "sqlite:" + directory.path("uaef.db")
        let registered = try await ExternalProcess.run([
            Fixtures.binary.path, "agents", "register", "--file", directory.path("agents.yaml"), "--store", store,
        ])
        try #require(registered.status == 0, "\(registered.output)")
        let (process, _, _) = try UAEFProcess.start(
            ["run", directory.path(workflow), "--store", store], in: directory.url)
        let deadline = ContinuousClock.now + .seconds(60)
        while !reached() {
            try #require(ContinuousClock.now < deadline, "\(never)")
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: settle)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return (store, process)
    }

    @Test(
        "uaef killed (SIGKILL) mid-conversation resumes from the recorded steps: the paid answer and the tool call are not made again"
    )
    func killAndResume() async throws {
        let answer = String(repeating: "The vendor is known and the invoice is fine. ", count: 5)
        let script = """
            scenarios:
              slow-clerk:
                - tool_calls: [{name: lookup_vendor, input: {vendor: ACME}}]
                  usage: {input_tokens: 500, output_tokens: 20}
                - text: "\(answer)"
                  stream_delay: 300ms
            """
        try await withFakeModelServer(script) { server, base in
            let directory = try TemporaryDirectory("llm-kill")
            defer { directory.remove() }
            let marker = directory.path("lookups")
            try """
            agents:
              - name: clerk
                kind: llm
                capabilities: [read]
                activate: true
                config:
                  provider: anthropic
                  model: slow-clerk
                  base_url: \(base(.anthropic).absoluteString)
                  api_key: test-key
                  tools: [lookup.vendor]
              - name: vendor-master
                kind: command
                capabilities: [lookup.vendor]
                activate: true
                config: {command: [sh, -c, 'cat >/dev/null; echo x >> \(marker); echo "{\\"vendor_id\\": \\"V-1\\"}"']}
            """.write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
            try """
            name: read
            tasks:
              - id: read
                capability: read
                retry: {max_attempts: 3, backoff: 100ms}
                with: {prompt: Is the invoice fine?}
            """.write(toFile: directory.path("read.yaml"), atomically: true, encoding: .utf8)
            // Killed while the second answer streams: the first answer and the tool call are recorded.
            let (store, killed) = try await Self.runThenKill(
                "read.yaml", in: directory, settle: .milliseconds(500), "the second model call never came"
            ) { server.calls.contains(where: { $0["turn"] == 1 }) }
            #expect(killed.terminationReason == .uncaughtSignal)
            let uaef = Fixtures.binary.path

            let resumed = try await ExternalProcess.run([uaef, "resume", "--store", store, "--json"])
            #expect(resumed.status == 0, "\(resumed.output)")
            let turns = server.calls.map { $0["turn"]?.numberValue?.intValue ?? -1 }
            #expect(turns == [0, 1, 1], "turn 0 answered once; turn 1 cut off by the kill, then answered")
            #expect(try String(contentsOfFile: marker, encoding: .utf8) == "x\n", "the tool ran once")
            let events = try await ExternalProcess.run([uaef, "events", "--store", store, "--json"])
            let types = events.output.split(separator: "\n").compactMap {
                try? JSONValue(jsonText: $0)["type"]?.stringValue
            }
            #expect(types.filter { $0 == "llm.call" }.count == 2)
            #expect(types.filter { $0 == "llm.tool" }.count == 1)
            #expect(types.last == "run.succeeded")
        }
    }

    @Test(
        "uaef killed (SIGKILL) during an MCP tool call that changes the world: the resumed task does not make the call again, and the model is told its outcome is unknown"
    )
    func killDuringMCPCall() async throws {
        let script = """
            scenarios:
              poster:
                - tool_calls: [{name: erp__post_invoice, input: {invoice: INV-7}}]
                - text: checked by hand
            """
        try await withFakeModelServer(script) { server, base in
            let directory = try TemporaryDirectory("llm-mcp-kill")
            defer { directory.remove() }
            let marker = directory.path("calls")
            let toolServer = Fixtures.packageRoot.appendingPathComponent("Tests/Support/mcp_tool_server.py").path
            try """
            agents:
              - name: poster
                kind: llm
                capabilities: [post]
                activate: true
                config:
                  provider: anthropic
                  model: poster
                  base_url: \(base(.anthropic).absoluteString)
                  api_key: test-key
                  mcp_servers:
                    - {name: erp, command: [python3, \(toolServer)], env: {UAEF_MCP_MARKER: \(marker), SLOW_POST: "60"}}
            """.write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
            try """
            name: post
            tasks:
              - id: post
                capability: post
                with: {prompt: Post INV-7}
            """.write(toFile: directory.path("post.yaml"), atomically: true, encoding: .utf8)
            let (store, _) = try await Self.runThenKill("post.yaml", in: directory, "the MCP tool was never called") {
                (try? String(contentsOfFile: marker, encoding: .utf8)) != nil
            }
            let uaef = Fixtures.binary.path

            let resumed = try await ExternalProcess.run([uaef, "resume", "--store", store, "--json"])
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(try String(contentsOfFile: marker, encoding: .utf8) == "post_invoice INV-7\n", "called once")
            #expect(server.calls.map { $0["turn"]?.numberValue?.intValue ?? -1 } == [0, 1])
            let events = try await ExternalProcess.run([uaef, "events", "--store", store, "--json"])
            let records = events.output.split(separator: "\n").compactMap { try? JSONValue(jsonText: $0) }
            #expect(records.filter { $0["type"] == "llm.tool_started" }.count == 1)
            let tool = try #require(records.first { $0["type"] == "llm.tool" })
            #expect(tool["data"]?["outcome_unknown"] == true && tool["data"]?["is_error"] == true, "\(tool.jsonText)")
            #expect(records.last?["type"] == "run.succeeded")
        }
    }

    @Test(
        "examples/llm/walkthrough.sh: an llm agent reads an invoice with a tool against the fake provider, and the ledger shows each call"
    )
    func walkthrough() async throws {
        let (status, text) = try await ExternalProcess.run(
            [Fixtures.packageRoot.appendingPathComponent("examples/llm/walkthrough.sh").path],
            environment: ProcessInfo.processInfo.environment.merging(["UAEF_BINARY": Fixtures.binary.path]) { _, new in
                new
            },
            withErrors: true)
        #expect(status == 0, "\(text)")
        #expect(text.contains(#"book:    {"account": "6400", "amount": "1250.00", "vendor": "V-1001"}"#), "\(text)")
        #expect(
            text.contains("llm.tool") && text.contains(#""cost":0.003135"#) && text.hasSuffix("walkthrough done\n"),
            "\(text)")
    }
}
