import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFLLM
import UAEFStore
import UAEFTestSupport

@Suite("The llm agent kind: conversations with tools, schemas, budgets and resumption, on SQLite and PostgreSQL")
struct LLMKindTests {
    struct Outcome {
        var status: RunStatus?
        var task: TaskRecord?
        var events: [EventRecord]
        var calls: [JSONValue]
        /// The clerk's model calls as `uaef agents show` reports them.
        var totals: ConversationTotals

        var output: JSONValue? { task?.output }
        func events(_ type: String) -> [EventRecord] { events.filter { $0.event.type == type } }
        /// The fake's answered calls of one turn, by HTTP status.
        func statuses(turn: Int) -> [Int] {
            calls.filter { $0["turn"]?.numberValue?.intValue == turn }.compactMap {
                $0["status"]?.numberValue?.intValue
            }
        }
    }

    /// Runs a one-task workflow whose task asks the `classify` capability of an `llm` agent
    /// configured with `config` (the fake's base URL and key added), with the task's `with`.
    func run(
        _ backend: StoreBackend, script: String, provider: ModelProvider = .anthropic,
        config: [String: JSONValue], with: String, retry: String = "{max_attempts: 1}",
        programs: HostProgram.EnvironmentPolicy? = .inherit, retryingTheRun: Bool = false, queued: Bool = false
    ) async throws -> Outcome {
        try await withFakeModelServer(script) { server, base in
            let location = try TestStore(backend)
            defer { location.remove() }
            let store = try await location.open()
            var kinds = BuiltInAgents.registry
            let toolKinds = Engine.prepare(kinds, store: store, secrets: nil)
            kinds.register(
                LLMKind(
                    store: store, policy: .unrestricted,
                    capabilities: CapabilityInvoker(store: store, kinds: toolKinds),
                    programs: programs))
            // Queued: this engine serves no capability, and a worker in this process executes the
            // `classify` attempts it queues, as `uaef worker --capabilities classify` would.
            var orchestration = Runner.Configuration()
            if queued { orchestration.capabilities = ["none"] }
            let engine = Engine(
                store: store, kinds: kinds, sections: [], configuration: orchestration, logger: Logger(label: "test"))
            let worker = Engine(store: store, kinds: kinds, sections: [], logger: Logger(label: "test"))
            let working = Task {
                if queued { await worker.executeQueuedAttempts(capabilities: ["classify"]) { _ in } }
            }
            defer { working.cancel() }
            var configuration = config
            configuration["provider"] = .string(provider.rawValue)
            configuration["base_url"] = .string(base(provider).absoluteString)
            configuration["api_key"] = "test-key"
            _ = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
                [
                    AgentSpec(
                        name: "clerk", kind: "llm", capabilities: ["classify"], configuration: configuration,
                        maxConcurrency: 4, activate: true),
                    AgentSpec(
                        name: "vendor-db", kind: "echo", capabilities: ["lookup.vendor"],
                        configuration: ["source": "erp"], activate: true),
                ], actor: "test")
            let workflow = """
                name: triage
                inputs: {invoice: "INV-7 from ACME, total 1250.00"}
                tasks:
                  - id: classify
                    capability: classify
                    retry: \(retry)
                    with: \(with)
                """
            let definition = try await engine.validate(workflow, file: "triage.yaml")
            let id = try await engine.submit(definition, file: "triage.yaml", inputs: [], actor: "test", leased: true)
            var status = try await engine.execute([id])[id]
            if retryingTheRun, try await engine.retry(id, actor: "test", leased: true) != nil {
                status = try await engine.execute([id])[id]
            }
            let task = try await store.snapshot(of: id, tenant: "default")?.tasks.first { $0.key == "classify" }
            let events = try await store.events(from: 0, limit: 10_000).filter {
                $0.event.subject.hasPrefix(id.rawValue)
            }
            return Outcome(
                status: status, task: task, events: events, calls: server.calls,
                totals: try await store.conversationTotals(tenant: "default", agent: "clerk"))
        }
    }

    static let schema =
        #"{type: object, properties: {category: {type: string, enum: [invoice, receipt]}}, required: [category], additionalProperties: false}"#

    @Test(
        "a conversation with two tools (one failing) ends in an answer that matches the schema; every step is an event",
        arguments: StoreBackend.allCases, ModelProvider.allCases)
    func twoTools(_ backend: StoreBackend, provider: ModelProvider) async throws {
        let script = """
            scenarios:
              clerk-model:
                - text: Let me check.
                  tool_calls:
                    - {name: search_events, input: {type: run.created}}
                    - {name: get_run, input: {run_id: run_missing}}
                  usage: {input_tokens: 1000, output_tokens: 50}
                - text: '{"category": "invoice"}'
                  usage: {input_tokens: 1200, output_tokens: 10}
            """
        let outcome = try await run(
            backend, script: script, provider: provider,
            config: [
                "model": "clerk-model", "tools": ["search_events", "get_run"],
                "prices": ["clerk-model": ["currency": "USD", "input": "3.00", "output": "15.00"]],
            ],
            with: "{prompt: 'Classify ${{ inputs.invoice }}', output_schema: \(Self.schema)}")
        #expect(outcome.status == .succeeded, "\(outcome.task?.error ?? "")")
        #expect(outcome.output?["answer"] == ["category": "invoice"])
        #expect(outcome.output?["usage"]?["input_tokens"] == 2200)
        // 2200 input tokens at 3.00 and 60 output tokens at 15.00 per million: 0.0066 + 0.0009.
        #expect(outcome.output?["cost"] == .number(Number(75, powerOfTen: -4)) && outcome.output?["currency"] == "USD")
        let calls = outcome.events("llm.call")
        #expect(calls.count == 2)
        #expect(calls.first?.event.data["cost"] == .number(Number(375, powerOfTen: -5)))
        #expect(calls.first?.event.payloads["request"]?["model"] == "clerk-model")
        let tools = outcome.events("llm.tool")
        #expect(tools.map { $0.event.data["tool"] } == ["search_events", "get_run"])
        #expect(tools.map { $0.event.data["is_error"] } == [false, true])
        #expect(tools.last?.event.payloads["result"] == "no run run_missing")
        #expect(tools.first?.event.payloads["result"]?.stringValue?.contains("run.created") == true)
        #expect(calls.allSatisfy { $0.event.data["step"] != nil && $0.event.actor == "agent:clerk" })
        #expect(outcome.totals.calls == 2 && outcome.totals.inputTokens == 2200 && outcome.totals.outputTokens == 60)
        #expect(outcome.totals.costNanos == ["USD": 7_500_000])
        #expect(outcome.totals.p50LatencyMilliseconds != nil && outcome.totals.p95LatencyMilliseconds != nil)
    }

    @Test(
        "an answer off the schema is sent back with the violations; broken tool JSON is asked again; repairs are limited",
        arguments: StoreBackend.allCases)
    func repairs(_ backend: StoreBackend) async throws {
        let script = """
            scenarios:
              repaired:
                - tool_calls: [{name: get_run, input: {run_id: run_1}}]
                  failures: [{invalid_tool_input: true}]
                - text: the category is invoice
                - text: '{"category": "bill"}'
                - text: "```json\\n{\\"category\\": \\"receipt\\"}\\n```"
              stubborn:
                - text: '{"category": 5}'
                - text: '{"category": 6}'
            """
        let repaired = try await run(
            backend, script: script,
            config: ["model": "repaired", "tools": ["get_run"], "repair_attempts": 3],
            with: "{prompt: Classify, output_schema: \(Self.schema)}")
        #expect(repaired.status == .succeeded, "\(repaired.task?.error ?? "")")
        #expect(repaired.output?["answer"] == ["category": "receipt"])
        #expect(repaired.statuses(turn: 0) == [200, 200], "the garbled answer, then the one asked for again")
        #expect(repaired.events("llm.call").count == 4)
        let stubborn = try await run(
            backend, script: script, config: ["model": "stubborn", "repair_attempts": 1],
            with: "{prompt: Classify, output_schema: \(Self.schema)}")
        #expect(stubborn.status == .failed)
        #expect(
            stubborn.task?.error?.contains("does not match output_schema after 1 repair: $.category: expected string")
                == true)
    }

    @Test(
        "a run retried after its llm task failed asks the model afresh: the failed go's conversation is not replayed",
        arguments: StoreBackend.allCases)
    func retriedRunAsksAfresh(_ backend: StoreBackend) async throws {
        // The second turn is refused once (400, not retried): the task fails after its first turn and
        // a tool call. The retry asks the first turn again instead of replaying it.
        let script = """
            scenarios:
              looked-up:
                - tool_calls: [{name: get_run, input: {run_id: run_1}}]
                - text: '{"category": "invoice"}'
                  failures: [{status: 400, type: invalid_request_error}]
            """
        // In the process that orchestrates the run, and in a worker that serves the capability.
        for queued in [false, true] {
            let outcome = try await run(
                backend, script: script, config: ["model": "looked-up", "tools": ["get_run"]],
                with: "{prompt: Classify, output_schema: \(Self.schema)}", retryingTheRun: true, queued: queued)
            #expect(outcome.status == .succeeded, "queued \(queued): \(outcome.task?.error ?? "")")
            #expect(outcome.output?["answer"] == ["category": "invoice"])
            #expect(outcome.statuses(turn: 0) == [200, 200], "the first turn asked in each go, not replayed")
            #expect(outcome.statuses(turn: 1) == [400, 200])
            let steps = outcome.events("llm.call").compactMap { $0.event.data["step"]?.numberValue?.intValue }
            #expect(steps == [0, 2, 4], "the retry's steps follow the first go's: \(steps)")
        }
    }

    @Test(
        "a call that could pass a budget is not made; the task fails at once with the reason",
        arguments: StoreBackend.allCases)
    func budgets(_ backend: StoreBackend) async throws {
        let outcome = try await run(
            backend, script: "scenarios: {}",
            config: ["model": "echo-model", "max_tokens": 1000, "budget": ["task_tokens": 500]],
            with: "{prompt: Classify}", retry: "{max_attempts: 3, backoff: 10ms}")
        #expect(outcome.status == .failed)
        #expect(outcome.task?.error?.contains("budget: the task's token budget (500) could be exceeded") == true)
        #expect(outcome.task?.attempts == 1, "not retried")
        #expect(outcome.calls.isEmpty)
        let costly = try await run(
            backend, script: "scenarios: {}",
            config: [
                "model": "echo-model", "max_tokens": 100,
                "prices": ["echo-model": ["currency": "EUR", "input": "1000", "output": "1000"]],
                "budget": ["run_cost": "0.01"],
            ], with: "{prompt: Classify}")
        #expect(costly.task?.error?.contains("the run's cost budget (0.01 EUR) could be exceeded") == true)
    }

    @Test(
        "a failed attempt's recorded steps are replayed by the retry, which pays only for the steps not recorded",
        arguments: StoreBackend.allCases)
    func resume(_ backend: StoreBackend) async throws {
        let script = """
            scenarios:
              flaky:
                - tool_calls: [{name: get_run, input: {run_id: run_1}}]
                - failures:
                    - {status: 500, type: api_error}
                    - {status: 500, type: api_error}
                    - {status: 500, type: api_error}
                  text: done
            """
        let outcome = try await run(
            backend, script: script, config: ["model": "flaky", "tools": ["get_run"]], with: "{prompt: Go}",
            retry: "{max_attempts: 2, backoff: 10ms, jitter: false}")
        #expect(outcome.status == .succeeded, "\(outcome.task?.error ?? "")")
        #expect(outcome.task?.attempts == 2)
        #expect(outcome.statuses(turn: 0) == [200], "the first answer was paid for once")
        #expect(outcome.statuses(turn: 1) == [500, 500, 500, 200])
        #expect(outcome.events("llm.call").map { $0.event.data["attempt"] } == [1, 2])
        #expect(outcome.events("llm.tool").count == 1, "the tool's recorded result was replayed too")
    }

    @Test(
        "a capability tool becomes an attempt of the agent offering it, with the agent's configuration and the model's input",
        arguments: StoreBackend.allCases)
    func capabilityTool(_ backend: StoreBackend) async throws {
        let script = """
            scenarios:
              with-vendor:
                - tool_calls: [{name: find_vendor, input: {vendor: ACME}}]
                - tool_calls: [{name: lookup_vendor, input: {vendor: Initech}}]
                - text: ACME is known
            """
        let outcome = try await run(
            backend, script: script,
            config: [
                "model": "with-vendor",
                "tools": [
                    "lookup.vendor",
                    [
                        "capability": "lookup.vendor", "name": "find_vendor", "description": "Find a vendor",
                        "input_schema": ["type": "object", "properties": ["vendor": ["type": "string"]]],
                    ],
                ],
            ], with: "{prompt: Who is ACME?}")
        #expect(outcome.status == .succeeded, "\(outcome.task?.error ?? "")")
        #expect(outcome.output?["answer"] == "ACME is known")
        let tools = outcome.events("llm.tool")
        #expect(tools.map { $0.event.data["tool"] } == ["find_vendor", "lookup_vendor"])
        #expect(tools.allSatisfy { $0.event.data["tool_agent"] == "vendor-db" && $0.event.data["tries"] == 1 })
        let result = try JSONValue(jsonText: try #require(tools.first?.event.payloads["result"]?.stringValue))
        #expect(result == ["vendor": "ACME", "source": "erp"])
    }

    static let toolServer = Fixtures.packageRoot.appendingPathComponent("Tests/Support/mcp_tool_server.py").path

    /// A conversation using the vendor-master MCP server's tools: one that answers with
    /// structured content, one that answers with an error result.
    static let mcpScript = """
        scenarios:
          with-mcp:
            - tool_calls: [{name: vendors__lookup_vendor, input: {vendor: ACME}}]
            - tool_calls: [{name: vendors__reject_invoice, input: {reason: duplicate}}]
            - text: ACME is V-278
        """

    func expectMCPConversation(_ outcome: Outcome) throws {
        #expect(outcome.status == .succeeded, "\(outcome.task?.error ?? "")")
        #expect(outcome.output?["answer"] == "ACME is V-278")
        let tools = outcome.events("llm.tool")
        #expect(tools.map { $0.event.data["tool"] } == ["vendors__lookup_vendor", "vendors__reject_invoice"])
        #expect(tools.map { $0.event.data["mcp_tool"] } == ["lookup_vendor", "reject_invoice"])
        #expect(tools.allSatisfy { $0.event.data["mcp_server"] == "vendors" })
        #expect(tools.map { $0.event.data["is_error"] } == [false, true])
        let found = try JSONValue(jsonText: try #require(tools.first?.event.payloads["result"]?.stringValue))
        #expect(found == ["vendor_id": "V-278", "name": "ACME"])
        #expect(
            tools.last?.event.payloads["result"]?.stringValue?.contains("rejections need a human: duplicate") == true)
        // The model was offered the server's tools with their schemas, named after the server.
        let offered = outcome.events("llm.call").first?.event.payloads["request"]?["tools"]?.arrayValue ?? []
        #expect(
            offered.compactMap { $0["name"]?.stringValue }.sorted() == [
                "vendors__count_calls", "vendors__lookup_vendor", "vendors__post_invoice", "vendors__reject_invoice",
            ])
        // Only the tool the server does not mark read-only is recorded as started before the call.
        #expect(outcome.events("llm.tool_started").map { $0.event.data["mcp_tool"] } == ["reject_invoice"])
    }

    @Test(
        "an MCP server run as a program (the Python SDK's MCPServer on stdio) gives the model its tools; results and error results are events",
        arguments: StoreBackend.allCases)
    func mcpProgramServer(_ backend: StoreBackend) async throws {
        let outcome = try await run(
            backend, script: Self.mcpScript,
            config: [
                "model": "with-mcp",
                "mcp_servers": [["name": "vendors", "command": ["python3", .string(Self.toolServer)]]],
            ], with: "{prompt: Who is ACME?}")
        try expectMCPConversation(outcome)
    }

    @Test("an MCP server over Streamable HTTP (answering as server-sent events) gives the model its tools")
    func mcpHTTPServer() async throws {
        let server = try LoopbackHTTPServer(script: "mcp_tool_server.py", arguments: ["--http"])
        defer { server.stop() }
        let outcome = try await run(
            .sqlite, script: Self.mcpScript,
            config: [
                "model": "with-mcp",
                "mcp_servers": [
                    ["name": "vendors", "url": .string("http://127.0.0.1:\(server.port)/mcp"), "timeout": "20s"]
                ],
            ], with: "{prompt: Who is ACME?}")
        try expectMCPConversation(outcome)
    }

    @Test(
        "only the agent's configuration names MCP servers: a task's with cannot add a program, and a process that starts none refuses one"
    )
    func mcpServersArePrivileged() async throws {
        let directory = try TemporaryDirectory("mcp-privilege")
        defer { directory.remove() }
        let marker = directory.path("started")
        let smuggled = try await run(
            .sqlite, script: "scenarios: {m: [{text: done}]}", config: ["model": "m"],
            with: "{prompt: Go, mcp_servers: [{name: x, command: [sh, -c, 'touch \(marker)']}]}")
        #expect(smuggled.status == .failed)
        #expect(
            smuggled.task?.error?.contains("mcp_servers is a setting of the agent") == true,
            "\(smuggled.task?.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: marker), "no program was started")
        let refused = try await run(
            .sqlite, script: "scenarios: {m: [{text: done}]}",
            config: [
                "model": "m", "mcp_servers": [["name": "x", "command": ["sh", "-c", .string("touch \(marker)")]]],
            ],
            with: "{prompt: Go}", programs: nil)
        #expect(refused.task?.error?.contains("this process starts none") == true, "\(refused.task?.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: marker), "no program was started")
        // The same server with a wider tool list or another variable is another server too.
        let configured: JSONValue = [
            ["name": "vendors", "command": ["python3", .string(Self.toolServer)], "tools": ["lookup_vendor"]]
        ]
        let widened = try await run(
            .sqlite, script: "scenarios: {m: [{text: done}]}", config: ["model": "m", "mcp_servers": configured],
            with:
                "{prompt: Go, mcp_servers: [{name: vendors, command: [python3, \(Self.toolServer)], env: {PYTHONPATH: /tmp}}]}"
        )
        #expect(
            widened.task?.error?.contains("mcp_servers is a setting of the agent") == true,
            "\(widened.task?.error ?? "")")
    }

    @Test("a program server that exits at once fails the attempt promptly; tool names that collide are refused")
    func mcpServerFailures() async throws {
        let exited = try await run(
            .sqlite, script: "scenarios: {m: [{text: done}]}",
            config: ["model": "m", "mcp_servers": [["name": "gone", "command": ["sh", "-c", "exit 0"]]]],
            with: "{prompt: Go}")
        #expect(exited.status == .failed)
        // Failed by the exit itself, not by the 30 s setup timeout (a time bound would be
        // flaky on a loaded machine; the message says which path was taken).
        #expect(
            exited.task?.error?.contains("the MCP server closed its output (it exited)") == true,
            "\(exited.task?.error ?? "")")
        #expect(exited.task?.error?.contains("gone") == true, "error: \(exited.task?.error ?? "none")")
        let collided = try await run(
            .sqlite, script: "scenarios: {m: [{text: done}]}",
            config: [
                "model": "m", "tools": [["capability": "lookup.vendor", "name": "vendors__lookup_vendor"]],
                "mcp_servers": [["name": "vendors", "command": ["python3", .string(Self.toolServer)]]],
            ], with: "{prompt: Go}")
        #expect(
            collided.task?.error?.contains("two tools are named vendors__lookup_vendor") == true,
            "\(collided.task?.error ?? "")")
    }

    @Test("an agent whose MCP servers include a program is registered only by an administrator")
    func programServersNeedAnAdministrator() async throws {
        let location = try TestStore(.sqlite)
        defer { location.remove() }
        let store = try await location.open()
        var kinds = BuiltInAgents.registry
        kinds.register(LLMKind(store: store, policy: .publicOnly, capabilities: nil, programs: .minimal))
        let registry = AgentRegistry(store: store, kinds: kinds, tenant: "acme")
        let spec = AgentSpec(
            name: "clerk", kind: "llm", capabilities: ["classify"],
            configuration: ["mcp_servers": [["name": "files", "command": ["python3", "server.py"]]]])
        await #expect(throws: ValidationFailure.self) {
            try await registry.register([spec], actor: "api:operator", administrator: false)
        }
        var remote = spec
        remote.configuration = ["mcp_servers": [["name": "files", "url": "https://mcp.example.com/mcp"]]]
        #expect(try await registry.register([remote], actor: "api:operator", administrator: false).count == 1)
        #expect(
            try await registry.register(
                [
                    {
                        var s = spec
                        s.name = "admin-clerk"
                        return s
                    }()
                ], actor: "api:admin"
            ).count == 1)
    }

    @Test("bad parameters fail the attempt without retrying, naming the parameter")
    func badParameters() async throws {
        let outcome = try await run(
            .sqlite, script: "scenarios: {}", config: ["model": "m", "max_turns": 0], with: "{prompt: Go}",
            retry: "{max_attempts: 3}")
        #expect(outcome.task?.error == "llm: max_turns must be a whole number from 1 to 100")
        #expect(outcome.task?.attempts == 1)
    }
}
