import Foundation
import NIOHTTP1
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFServer
import UAEFStore
import UAEFTestSupport

/// What one hostile tenant tried against a running server (issue 14), each refused without harm
/// to the server or the other tenants.
@Suite("HTTP API: hostile tenants")
struct HardeningTests {
    static func workflow(_ name: String, tasks: String, inputs: String = "{}") -> String {
        "name: \(name)\ninputs: \(inputs)\ntasks:\n\(tasks)\n"
    }

    @Test(
        "a server offers no command kind by default; with it, only admins register command agents and no task names the kind"
    )
    func commandIsTheAdministratorsDecision() async throws {
        let closed = try await ServerHarness.start(kinds: BuiltInAgents.server(command: .none, policy: .publicOnly))
        defer { Task { await closed.stop() } }
        let admin = try await closed.token("acme", [.admin])
        let agent = "agents:\n  - {name: box, kind: command, capabilities: [shell], activate: true}\n"
        #expect(try await closed.send(.POST, "/v1/agents", token: admin, body: agent).status == 422)
        let direct = Self.workflow("direct", tasks: "  - {id: x, agent: command, with: {command: [id]}}")
        #expect(try await closed.send(.POST, "/v1/workflows", token: admin, body: direct).status == 422)

        let open = try await ServerHarness.start(
            kinds: BuiltInAgents.server(command: .administratorsAgents, policy: .publicOnly))
        defer { Task { await open.stop() } }
        let operatorToken = try await open.token("acme", [.operator])
        let refused = try await open.send(.POST, "/v1/agents", token: operatorToken, body: agent)
        #expect(refused.status == 422)
        #expect(refused.body.contains("only an administrator"))
        let named = try await open.send(.POST, "/v1/workflows", token: operatorToken, body: direct)
        #expect(named.status == 422)
        #expect(named.body.contains("acts on the server's host"))

        let registered = try await open.send(
            .POST, "/v1/agents", token: try await open.token("acme", [.admin]),
            body:
                "agents:\n  - {name: box, kind: command, capabilities: [shell], activate: true, config: {command: [sh, -c, 'echo {}']}}\n"
        )
        #expect(registered.status == 201)
        let viaAgent = Self.workflow("via-agent", tasks: "  - {id: x, capability: shell}")
        #expect(try await open.send(.POST, "/v1/workflows", token: operatorToken, body: viaAgent).status == 201)
        let run = try #require(
            try await open.send(.POST, "/v1/runs", token: operatorToken, body: #"{"workflow": "via-agent"}"#)["run_id"]?
                .stringValue)
        #expect(try await open.waitForRun(run, token: operatorToken)["status"] == "succeeded")
    }

    @Test("Last-Event-ID at the largest seq is a 400, and the server goes on serving")
    func lastEventIDOverflow() async throws {
        let server = try await ServerHarness.start()
        defer { Task { await server.stop() } }
        let viewer = try await server.token("acme", [.viewer])
        for value in ["9223372036854775807", "99999999999999999999", "-2", "x"] {
            let reply = try await server.send(.GET, "/v1/events", token: viewer, headers: [("Last-Event-ID", value)])
            #expect(reply.status == 400, "\(value)")
        }
        #expect(try await server.send(.GET, "/healthz").status == 200)
    }

    @Test(
        "values nested deeper than 64 levels are refused at the door, as YAML or JSON; aliases that expand forever are refused at once"
    )
    func depthAndExpansionLimits() async throws {
        let server = try await ServerHarness.start()
        defer { Task { await server.stop() } }
        let token = try await server.token("acme", [.operator])
        let deepYAML = String(repeating: "[", count: 400) + String(repeating: "]", count: 400)
        let deepWorkflow = Self.workflow("deep", tasks: "  - {id: a, agent: echo}", inputs: "{x: \(deepYAML)}")
        let refused = try await server.send(.POST, "/v1/workflows", token: token, body: deepWorkflow)
        #expect(refused.status == 422)
        #expect(refused.body.contains("deeper than 64"))

        let echo = Self.workflow(
            "echo", tasks: "  - {id: a, agent: echo, with: {x: '${{ inputs.x }}'}}", inputs: "{x: 1}")
        #expect(try await server.send(.POST, "/v1/workflows", token: token, body: echo).status == 201)
        let deepJSON = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let run = try await server.send(
            .POST, "/v1/runs", token: token, body: #"{"workflow": "echo", "inputs": {"x": \#(deepJSON)}}"#)
        #expect(run.status == 422)
        #expect(run.body.contains("deeper than 64"))

        // 9 levels of 10 aliases each: 10^9 nodes once expanded ("billion laughs").
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            bomb +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        let started = ContinuousClock.now
        let exploded = try await server.send(
            .POST, "/v1/workflows", token: token, body: bomb + "name: bomb\ntasks: []\n")
        #expect(exploded.status == 422)
        #expect(exploded.body.contains("through aliases"))
        #expect(ContinuousClock.now - started < .seconds(2))
        // The ledger reads back for everyone.
        let auditor = try await server.token("acme", [.auditor])
        #expect(try await server.send(.GET, "/v1/ledger/events", token: auditor).status == 200)
    }

    @Test(
        "another tenant's unreadable event stops neither a tenant's ledger export nor its event stream nor its proofs")
    func unreadableEventStaysWithItsTenant() async throws {
        let server = try await ServerHarness.start()
        defer { Task { await server.stop() } }
        for tenant in ["acme", "globex"] {
            let token = try await server.token(tenant, [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow": "hello"}"#)["run_id"]?
                    .stringValue)
            #expect(try await server.waitForRun(run, token: token)["status"] == "succeeded")
        }
        // Given: every globex event unreadable, as a value past the store's depth limit would be.
        let path = String(server.location.url.dropFirst("sqlite:".count))
        let damage = try Process.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE events SET data='{' WHERE tenant='globex'\"); c.commit()",
                path,
            ])
        damage.waitUntilExit()
        #expect(damage.terminationStatus == 0)
        let globexEvents = try await server.send(
            .GET, "/v1/ledger/events", token: try await server.token("globex", [.auditor]))
        #expect(globexEvents.status == 500)

        // Then: acme reads on.
        let auditor = try await server.token("acme", [.auditor])
        let events = try await server.send(.GET, "/v1/ledger/events?limit=1000", token: auditor)
        #expect(events.status == 200)
        let lines = try #require(events["events"]?.arrayValue)
        #expect(!lines.isEmpty)
        let index = try #require(lines.first?.objectValue?["index"]?.numberValue?.intValue)
        #expect(try await server.send(.GET, "/v1/ledger/proofs/inclusion?index=\(index)", token: auditor).status == 200)
        let messages = try await LedgerAPITests().readStream(server, "/v1/events", token: auditor, lastEventID: "-1") {
            $0.contains { $0.type == "run.succeeded" }
        }
        #expect(messages.contains { $0.type == "run.succeeded" })
    }

    @Test(
        "a {\"$secret\": …} placeholder that arrives as data (inputs, outputs) fails the task instead of being resolved"
    )
    func secretPlaceholdersOnlyFromTheAuthor() async throws {
        let server = try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 5, count: 32)))
        defer { Task { await server.stop() } }
        let admin = try await server.token("acme", [.admin])
        #expect(
            try await server.send(.PUT, "/v1/secrets/pw", token: admin, body: #"{"value": "s3cr3t-value"}"#).status
                == 200)
        let workflow = Self.workflow(
            "smuggle",
            tasks: """
                  - {id: relay, agent: echo, with: {v: '${{ inputs.p }}'}}
                  - {id: use, agent: echo, depends_on: [relay], with: {v: '${{ tasks.relay.output.v }}'}}
                """, inputs: "{p: 1}")
        #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
        let run = try #require(
            try await server.send(
                .POST, "/v1/runs", token: admin, body: #"{"workflow": "smuggle", "inputs": {"p": {"$secret": "pw"}}}"#)[
                    "run_id"]?.stringValue)
        let ended = try await server.waitForRun(run, token: admin)
        #expect(ended["status"] == "failed")
        #expect(ended.body.contains("only the workflow's own text or an agent's configuration may name a secret"))
        #expect(!ended.body.contains("s3cr3t-value"))
    }

    @Test(
        "http reaches no loopback address unless allowed, refuses a method that smuggles a request line, and shows no secret or query in errors"
    )
    func outboundHTTP() async throws {
        let guarded = try await ServerHarness.start(
            secrets: try SecretBox(key: Array(repeating: 6, count: 32)),
            kinds: BuiltInAgents.server(command: .none, policy: .publicOnly))
        defer { Task { await guarded.stop() } }
        let admin = try await guarded.token("acme", [.admin])
        let healthz = guarded.base + "/healthz"
        let secretURL = guarded.base + "/v1/runs?api_key=k3y-in-query"
        #expect(
            try await guarded.send(.PUT, "/v1/secrets/url", token: admin, body: #"{"value": "\#(secretURL)"}"#).status
                == 200)
        let workflow = Self.workflow(
            "outbound",
            tasks: """
                  - {id: loopback, agent: http, with: {url: "\(healthz)?token=t0ken"}}
                  - {id: metadata, agent: http, with: {url: "http://169.254.169.254/latest/meta-data/"}}
                  - {id: smuggled, agent: http, with: {url: "http://example.com/", method: "GET /admin HTTP/1.1\\r\\nX: y"}}
                """)
        #expect(try await guarded.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
        let run = try #require(
            try await guarded.send(.POST, "/v1/runs", token: admin, body: #"{"workflow": "outbound"}"#)["run_id"]?
                .stringValue)
        let ended = try await guarded.waitForRun(run, token: admin)
        let tasks = try #require(ended["tasks"]?.objectValue)
        #expect(tasks["loopback"]?.objectValue?["error"]?.stringValue?.contains("loopback address") == true)
        #expect(tasks["metadata"]?.objectValue?["error"]?.stringValue?.contains("169.254.169.254") == true)
        #expect(tasks["smuggled"]?.objectValue?["error"]?.stringValue?.contains("`method` must be") == true)
        #expect(!ended.body.contains("t0ken"))

        // With loopback allowed, a URL that is a secret fails (401 from the API) without showing it.
        let allowed = try await ServerHarness.start(
            secrets: try SecretBox(key: Array(repeating: 6, count: 32)),
            kinds: BuiltInAgents.server(command: .none, policy: try OutboundPolicy(allowing: ["127.0.0.0/8"])))
        defer { Task { await allowed.stop() } }
        let allowedAdmin = try await allowed.token("acme", [.admin])
        let target = allowed.base + "/v1/runs?api_key=k3y-in-query"
        _ = try await allowed.send(.PUT, "/v1/secrets/url", token: allowedAdmin, body: #"{"value": "\#(target)"}"#)
        let reach = Self.workflow(
            "reach",
            tasks: """
                  - {id: health, agent: http, with: {url: "\(allowed.base)/healthz"}}
                  - {id: hidden, agent: http, with: {url: {$secret: url}}}
                """)
        #expect(try await allowed.send(.POST, "/v1/workflows", token: allowedAdmin, body: reach).status == 201)
        let reachRun = try #require(
            try await allowed.send(.POST, "/v1/runs", token: allowedAdmin, body: #"{"workflow": "reach"}"#)["run_id"]?
                .stringValue)
        let reached = try await allowed.waitForRun(reachRun, token: allowedAdmin)
        let reachedTasks = try #require(reached["tasks"]?.objectValue)
        #expect(reachedTasks["health"]?.objectValue?["status"] == "succeeded")
        let hidden = try #require(reachedTasks["hidden"]?.objectValue?["error"]?.stringValue)
        #expect(hidden.contains("answered 401"))
        // Errors show a URL's scheme, host and path only: never its query or user information.
        #expect(hidden.contains("GET \(allowed.base)/v1/runs answered 401"), "\(hidden)")
        #expect(!hidden.contains("k3y-in-query"))
        let export = try await allowed.send(
            .GET, "/v1/ledger/events?limit=1000", token: try await allowed.token("acme", [.auditor]))
        #expect(!export.body.contains("k3y-in-query"))
    }
}
