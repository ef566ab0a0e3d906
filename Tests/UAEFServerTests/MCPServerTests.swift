import Foundation
import MCP
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("MCP server at POST /v1/mcp (Streamable HTTP, the bearer token's tenant and roles)")
struct MCPServerTests {
    /// A client of the official Swift MCP SDK connected to the server as `token`'s principal.
    static func connect(_ server: ServerHarness, token: String) async throws -> Client {
        let client = Client(name: "uaef-tests", version: "1")
        let transport = HTTPClientTransport(
            endpoint: URL(string: server.base + "/v1/mcp")!, streaming: false,
            requestModifier: { request in
                var request = request
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                return request
            })
        _ = try await client.connect(transport: transport)
        return client
    }

    /// The structured result of a successful call, or the text of an error result as `{"error": …}`.
    static func call(_ client: Client, _ name: String, _ arguments: [String: Value] = [:]) async throws -> JSONValue {
        let result = try await client.send(CallTool.request(.init(name: name, arguments: arguments))).value
        if result.isError == true, case .text(let text, _, _)? = result.content.first {
            return ["error": .string(text)]
        }
        let structured = try JSONValue(jsonData: try JSONEncoder().encode(result.structuredContent ?? .null))
        // The text block carries the same value as JSON text, for clients that read only text.
        if case .text(let text, _, _)? = result.content.first { #expect(try JSONValue(jsonText: text) == structured) }
        return structured
    }

    static let readTools = [
        "describe_workflow", "get_run", "list_approvals", "list_runs", "list_schedules", "list_settlements",
        "list_templates", "list_workflows",
    ]

    @Test("tools/list shows each role only the tools its permissions allow, with schemas and annotations")
    func toolsPerRole() async throws {
        try await ServerHarness.start().serving { server in
            let expected: [(Set<Role>, [String])] = [
                ([.viewer], Self.readTools),
                ([.auditor], (Self.readTools + ["get_ledger_proof"]).sorted()),
                (
                    [.operator],
                    (Self.readTools + [
                        "backfill_schedule", "retry_run", "start_run", "trigger_schedule", "use_template",
                    ]).sorted()
                ),
                ([.approver], (Self.readTools + ["decide_approval"]).sorted()),
                (
                    [.admin],
                    (Self.readTools + [
                        "backfill_schedule", "decide_approval", "get_ledger_proof", "retry_run", "start_run",
                        "trigger_schedule", "use_template",
                    ]).sorted()
                ),
            ]
            for (roles, names) in expected {
                let client = try await Self.connect(server, token: try await server.token("acme", roles))
                let tools = try await client.listTools().tools
                #expect(tools.map(\.name).sorted() == names, "roles \(roles)")
                await client.disconnect()
            }
            let client = try await Self.connect(server, token: try await server.token("acme", [.admin]))
            let tools = Dictionary(uniqueKeysWithValues: try await client.listTools().tools.map { ($0.name, $0) })
            for (name, tool) in tools {
                #expect(tool.inputSchema.objectValue?["additionalProperties"] == .bool(false), "\(name)")
                #expect(tool.outputSchema?.objectValue?["type"] == "object", "\(name)")
                #expect(tool.annotations.readOnlyHint == Self.readTools.contains(name) || name == "get_ledger_proof")
            }
            #expect(tools["decide_approval"]?.annotations.destructiveHint == true)
            #expect(tools["start_run"]?.annotations.destructiveHint == false)
            // The run's schema is the API's: its task states come along as definitions.
            #expect(tools["get_run"]?.outputSchema?.objectValue?["$defs"]?.objectValue?["TaskState"] != nil)
            await client.disconnect()
        }
    }

    @Test(
        "the independent Python MCP SDK, as an operator and an approver: runs, idempotency, a verified proof, an approval, errors"
    )
    func pythonClient() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            for source in [MCPClientCheck.helloWorkflow, MCPClientCheck.signOffWorkflow] {
                #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: source).status == 201)
            }
            let events = try await server.send(.GET, "/v1/ledger/events?limit=1", token: admin)
            let seq = try #require(events["events"]?.arrayValue?.first?["event"]?["seq"]?.numberValue?.intValue)
            let operatorToken = try await server.authority!.issue(
                for: Principal(subject: "ops", tenant: "acme", roles: [.operator, .auditor]), lifetime: .seconds(600))
            let approverToken = try await server.authority!.issue(
                for: Principal(subject: "alice", tenant: "acme", roles: [.approver], approvalRoles: ["finance"]),
                lifetime: .seconds(600))
            let url = server.base + "/v1/mcp"
            let summary = try await MCPClientCheck.run(
                operator: .http(url, token: operatorToken), approver: .http(url, token: approverToken), proofSeq: seq)
            #expect(MCPClientCheck.mismatches(in: summary) == [], "\(summary.jsonText)")
        }
    }

    @Test(
        "a tool reaches only its caller's tenant: another tenant's run and workflows do not exist for it, nor can it run that run again"
    )
    func tenantIsolation() async throws {
        try await ServerHarness.start().serving { server in
            let acme = try await server.token("acme", [.admin])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: acme, body: MCPClientCheck.helloWorkflow).status
                    == 201)
            let acmeClient = try await Self.connect(server, token: acme)
            let started = try await Self.call(acmeClient, "start_run", ["workflow": "hello"])
            let run = try #require(started["run_id"]?.stringValue)
            let counted = try await Self.call(acmeClient, "list_runs", ["task_counts": true])
            #expect(counted["runs"]?.arrayValue?.first?["task_counts"]?["total"]?.numberValue?.intValue ?? 0 > 0)
            let globex = try await Self.connect(server, token: try await server.token("globex", [.admin]))
            #expect(
                try await Self.call(globex, "get_run", ["run_id": .string(run)])["error"]?.stringValue?.contains(
                    "does not exist") == true)
            #expect(try await Self.call(globex, "list_runs")["runs"] == [])
            #expect(try await server.waitForRun(run, token: acme)["status"] == "succeeded")
            let rerun: [String: Value] = ["run_id": .string(run), "from": ["greet"]]
            #expect(
                try await Self.call(globex, "retry_run", rerun)["error"]?.stringValue?.contains("does not exist")
                    == true)
            #expect(try await Self.call(acmeClient, "retry_run", rerun)["retry_count"] == 1)
            #expect(try await Self.call(globex, "list_workflows")["workflows"] == [])
            #expect(
                try await Self.call(globex, "start_run", ["workflow": "hello"])["error"]?.stringValue?.contains(
                    "no workflow named 'hello'") == true)
            await acmeClient.disconnect()
            await globex.disconnect()
        }
    }

    @Test(
        "list_templates shows the templates; use_template makes a workflow for an operator that start_run runs, not for a viewer"
    )
    func templates() async throws {
        try await ServerHarness.start().serving { server in
            let operatorToken = try await server.token("acme", [.operator])
            let agents = "agents:\n  - {name: gl, kind: echo, capabilities: [ledger.balance], activate: true}\n"
            #expect(try await server.send(.POST, "/v1/agents", token: operatorToken, body: agents).status == 201)
            let client = try await Self.connect(server, token: operatorToken)
            let listed = try await Self.call(client, "list_templates")
            #expect(
                listed["templates"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.contains(
                    "account-reconciliation") == true)
            let capabilities: Value = [
                "statement_capability": "ledger.balance", "ledger_capability": "ledger.balance",
                "match_capability": "ledger.balance", "adjust_capability": "ledger.balance",
            ]
            let made = try await Self.call(
                client, "use_template",
                ["template": "account-reconciliation", "name": "close-month", "parameters": capabilities])
            #expect(made["registered"]?["version"] == 1, "\(made)")
            let wrong = try await Self.call(
                client, "use_template", ["template": "account-reconciliation", "parameters": ["tolerance": -1]])
            #expect(wrong["error"]?.stringValue?.contains("tolerance") == true, "\(wrong)")
            let viewer = try await Self.connect(server, token: try await server.token("acme", [.viewer]))
            let refused = try await Self.call(viewer, "use_template", ["template": "account-reconciliation"])
            #expect(refused["error"]?.stringValue?.contains("may not call use_template") == true, "\(refused)")
            #expect(try await Self.call(viewer, "describe_workflow", ["name": "close-month"])["version"] == 1)
            await client.disconnect()
            await viewer.disconnect()
        }
    }

    @Test(
        "list_schedules shows the tenant's schedules; trigger_schedule starts one's run for an operator, not a viewer"
    )
    func schedules() async throws {
        try await ServerHarness.start().serving { server in
            let operatorToken = try await server.token("acme", [.operator])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: operatorToken, body: MCPClientCheck.helloWorkflow)
                    .status == 201)
            let document =
                "schedules:\n  - {name: greet-daily, workflow: hello, cron: \"0 8 * * *\", time_zone: Asia/Tokyo}\n"
            #expect(try await server.send(.POST, "/v1/schedules", token: operatorToken, body: document).status == 201)
            let client = try await Self.connect(server, token: operatorToken)
            let listed = try await Self.call(client, "list_schedules")
            let schedule = try #require(listed["schedules"]?.arrayValue?.first)
            #expect(schedule["name"] == "greet-daily" && schedule["time_zone"] == "Asia/Tokyo")
            // 08:00 in Tokyo (no summer time) is 23:00Z the day before.
            #expect(schedule["next_at"]?.stringValue?.hasSuffix("T23:00:00.000Z") == true, "\(schedule)")
            let now = Date()
            let backfilled = try await Self.call(
                client, "backfill_schedule",
                [
                    "name": "greet-daily", "from": .string(Timestamp.format(now.addingTimeInterval(-2 * 86_400))),
                    "to": .string(Timestamp.format(now)),
                ])
            #expect(backfilled["created"] == 2, "\(backfilled)")
            let started = try await Self.call(client, "trigger_schedule", ["name": "greet-daily"])
            let run = try #require(started["run_id"]?.stringValue, "\(started)")
            #expect(try await server.waitForRun(run, token: operatorToken)["status"] == "succeeded")
            let missing = try await Self.call(client, "trigger_schedule", ["name": "nope"])
            #expect(missing["error"]?.stringValue?.contains("no schedule named 'nope'") == true, "\(missing)")
            let viewer = try await Self.connect(server, token: try await server.token("acme", [.viewer]))
            let refused = try await Self.call(viewer, "trigger_schedule", ["name": "greet-daily"])
            #expect(refused["error"]?.stringValue?.contains("may not call trigger_schedule") == true, "\(refused)")
            #expect(try await Self.call(viewer, "list_schedules")["schedules"]?.arrayValue?.count == 1)
            await client.disconnect()
            await viewer.disconnect()
        }
    }

    @Test("an unknown tool is a protocol error; arguments are checked against the input schema before anything runs")
    func argumentsAndUnknownTools() async throws {
        try await ServerHarness.start().serving { server in
            let client = try await Self.connect(server, token: try await server.token("acme", [.admin]))
            await #expect(throws: MCPError.self) { try await client.callTool(name: "drop_tables") }
            let wrongType = try await Self.call(client, "get_run", ["run_id": 42])
            #expect(wrongType["error"]?.stringValue?.contains("$.run_id") == true, "\(wrongType)")
            let tooLong = try await Self.call(
                client, "start_run", ["workflow": "w", "idempotency_key": .string(String(repeating: "k", count: 256))])
            #expect(tooLong["error"]?.stringValue?.contains("$.idempotency_key") == true, "\(tooLong)")
            let badDecision = try await Self.call(
                client, "decide_approval", ["approval_id": "apr_x", "decision": "maybe"])
            #expect(badDecision["error"]?.stringValue?.contains("$.decision") == true, "\(badDecision)")
            let badFrom = try await Self.call(client, "retry_run", ["run_id": "run_x", "from": "greet"])
            #expect(badFrom["error"]?.stringValue?.contains("$.from") == true, "\(badFrom)")
            let badCounts = try await Self.call(client, "list_runs", ["task_counts": "yes"])
            #expect(badCounts["error"]?.stringValue?.contains("$.task_counts") == true, "\(badCounts)")
            #expect(try await Self.call(client, "list_runs")["runs"] == [], "nothing was started by the refused calls")
            // The largest sequence number is checked, not added to (it would overflow).
            let beyond = try await Self.call(client, "get_ledger_proof", ["seq": .int(Int(Int64.max))])
            #expect(beyond["error"]?.stringValue?.contains("$.seq") == true, "\(beyond)")
            let last = try await Self.call(client, "get_ledger_proof", ["seq": .int(Int(Int64.max - 1))])
            #expect(last["error"]?.stringValue?.contains("does not exist") == true, "\(last)")
            await client.disconnect()
        }
    }

    @Test("the transport: POST only, a token needed, and without tokens only loopback Host and Origin (DNS rebinding)")
    func transportRules() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.viewer])
            let get = try await server.send(.GET, "/v1/mcp", token: token)
            #expect(get.status == 405 && get.headers["Allow"] == ["POST"])
            let initialize =
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}"#
            let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
            #expect(try await server.send(.POST, "/v1/mcp", body: initialize, headers: headers).status == 401)
            #expect(
                try await server.send(
                    .POST, "/v1/mcp", token: try await server.token("acme", [.agent]), body: initialize,
                    headers: headers
                ).status == 403)
            let answered = try await server.send(.POST, "/v1/mcp", token: token, body: initialize, headers: headers)
            #expect(answered.status == 200 && answered["result"]?["serverInfo"]?["name"] == "uaef", "\(answered.body)")
            // Both a request and a response: refused rather than left unanswered for good.
            let ambiguous = #"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#
            #expect(
                try await server.send(.POST, "/v1/mcp", token: token, body: ambiguous, headers: headers).status == 400)
        }
        try await ServerHarness.start(authenticated: false).serving { server in
            let initialize =
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"page","version":"1"}}}"#
            var headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
            #expect(try await server.send(.POST, "/v1/mcp", body: initialize, headers: headers).status == 200)
            let foreignOrigin = try await server.send(
                .POST, "/v1/mcp", body: initialize, headers: headers + [("Origin", "http://evil.example")])
            #expect(foreignOrigin.status == 403, "\(foreignOrigin.body)")
            headers.append(("Host", "evil.example:8080"))
            let foreignHost = try await server.send(.POST, "/v1/mcp", body: initialize, headers: headers)
            #expect(foreignHost.status == 421, "\(foreignHost.status) \(foreignHost.body)")
        }
    }
}
