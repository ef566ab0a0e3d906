import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
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
        try await ServerHarness.start(kinds: BuiltInAgents.server(command: .none, policy: .publicOnly)).serving {
            closed in
            let admin = try await closed.token("acme", [.admin])
            let agent = "agents:\n  - {name: box, kind: command, capabilities: [shell], activate: true}\n"
            #expect(try await closed.send(.POST, "/v1/agents", token: admin, body: agent).status == 422)
            let direct = Self.workflow("direct", tasks: "  - {id: x, agent: command, with: {command: [id]}}")
            #expect(try await closed.send(.POST, "/v1/workflows", token: admin, body: direct).status == 422)

            try await ServerHarness.start(
                kinds: BuiltInAgents.server(command: .administratorsAgents, policy: .publicOnly)
            ).serving { open in
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
                    try await open.send(.POST, "/v1/runs", token: operatorToken, body: #"{"workflow": "via-agent"}"#)[
                        "run_id"]?
                        .stringValue)
                #expect(try await open.waitForRun(run, token: operatorToken)["status"] == "succeeded")
            }
        }
    }

    @Test("Last-Event-ID at the largest seq is a 400, and the server goes on serving")
    func lastEventIDOverflow() async throws {
        try await ServerHarness.start().serving { server in
            let viewer = try await server.token("acme", [.viewer])
            for value in ["9223372036854775807", "99999999999999999999", "-2", "x"] {
                let reply = try await server.send(
                    .GET, "/v1/events", token: viewer, headers: [("Last-Event-ID", value)])
                #expect(reply.status == 400, "\(value)")
            }
            #expect(try await server.send(.GET, "/healthz").status == 200)
        }
    }

    @Test(
        "values nested deeper than 64 levels are refused at the door, as YAML or JSON; aliases that expand forever are refused at once"
    )
    func depthAndExpansionLimits() async throws {
        try await ServerHarness.start().serving { server in
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
            // Expanding 10^9 nodes would take minutes; 10 s leaves room for a loaded test machine.
            #expect(ContinuousClock.now - started < .seconds(10))
            // The ledger reads back for everyone.
            let auditor = try await server.token("acme", [.auditor])
            #expect(try await server.send(.GET, "/v1/ledger/events", token: auditor).status == 200)
        }
    }

    @Test(
        "another tenant's unreadable event stops neither a tenant's ledger export nor its event stream nor its proofs")
    func unreadableEventStaysWithItsTenant() async throws {
        try await ServerHarness.start().serving { server in
            _ = try await LedgerAPITests().twoTenantsRun(server)
            // Given: every globex event unreadable, as a value past the store's depth limit would be.
            let path = String(server.location.url.dropFirst("sqlite:".count))
            let damage = try ChildProcess.run(
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
            #expect(
                try await server.send(.GET, "/v1/ledger/proofs/inclusion?index=\(index)", token: auditor).status == 200)
            let messages = try await LedgerAPITests().readStream(
                server, "/v1/events", token: auditor, lastEventID: "-1"
            ) {
                $0.contains { $0.type == "run.succeeded" }
            }
            #expect(messages.contains { $0.type == "run.succeeded" })
        }
    }

    @Test(
        "a {\"$secret\": …} placeholder that arrives as data (inputs, outputs) fails the task instead of being resolved"
    )
    func secretPlaceholdersOnlyFromTheAuthor() async throws {
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 5, count: 32))).serving { server in
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
                    .POST, "/v1/runs", token: admin,
                    body: #"{"workflow": "smuggle", "inputs": {"p": {"$secret": "pw"}}}"#)[
                        "run_id"]?.stringValue)
            let ended = try await server.waitForRun(run, token: admin)
            #expect(ended["status"] == "failed")
            #expect(ended.body.contains("only the workflow's own text or an agent's configuration may name a secret"))
            #expect(!ended.body.contains("s3cr3t-value"))
        }
    }

    @Test(
        "http reaches no loopback address unless allowed, refuses a method that smuggles a request line, and shows no secret or query in errors"
    )
    func outboundHTTP() async throws {
        try await ServerHarness.start(
            secrets: try SecretBox(key: Array(repeating: 6, count: 32)),
            kinds: BuiltInAgents.server(command: .none, policy: .publicOnly)
        ).serving { guarded in
            let admin = try await guarded.token("acme", [.admin])
            let healthz = guarded.base + "/healthz"
            let secretURL = guarded.base + "/v1/runs?api_key=k3y-in-query"
            #expect(
                try await guarded.send(.PUT, "/v1/secrets/url", token: admin, body: #"{"value": "\#(secretURL)"}"#)
                    .status
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
            try await ServerHarness.start(
                secrets: try SecretBox(key: Array(repeating: 6, count: 32)),
                kinds: BuiltInAgents.server(command: .none, policy: try OutboundPolicy(allowing: ["127.0.0.0/8"]))
            ).serving { allowed in
                let allowedAdmin = try await allowed.token("acme", [.admin])
                let target = allowed.base + "/v1/runs?api_key=k3y-in-query"
                _ = try await allowed.send(
                    .PUT, "/v1/secrets/url", token: allowedAdmin, body: #"{"value": "\#(target)"}"#)
                let reach = Self.workflow(
                    "reach",
                    tasks: """
                          - {id: health, agent: http, with: {url: "\(allowed.base)/healthz"}}
                          - {id: hidden, agent: http, with: {url: {$secret: url}}}
                        """)
                #expect(try await allowed.send(.POST, "/v1/workflows", token: allowedAdmin, body: reach).status == 201)
                let reachRun = try #require(
                    try await allowed.send(.POST, "/v1/runs", token: allowedAdmin, body: #"{"workflow": "reach"}"#)[
                        "run_id"]?
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
    }

    /// An HS256 token over `header` and `claims` signed with the harness's secret.
    static func signed(header: String, claims: String) -> String {
        let signingInput = AuthorizationTests.base64URL(header) + "." + AuthorizationTests.base64URL(claims)
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data(signingInput.utf8), using: SymmetricKey(data: ServerHarness.secret))
        return signingInput + "."
            + Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test(
        "tokens with crit, a lifetime past the maximum, an empty or control-character sub, or a bad tenant are refused")
    func tokenClaims() async throws {
        try await ServerHarness.start().serving { server in
            let exp = Int(Date().timeIntervalSince1970) + 600
            let header = #"{"alg":"HS256","typ":"JWT"}"#
            func claims(sub: String = "mallory", tenant: String = "acme", exp: Int = exp) -> String {
                JSONValue.object([
                    "sub": .string(sub), "tenant": .string(tenant), "roles": ["admin"], "exp": .number(Number(exp)),
                    "aud": .string(ServerHarness.audience),
                ]).jsonText
            }
            #expect(
                try await server.send(.GET, "/v1/workflows", token: Self.signed(header: header, claims: claims()))
                    .status
                    == 200)
            let cases: [(String, String, String)] = [
                ("crit", Self.signed(header: #"{"alg":"HS256","crit":["exp"],"exp":1}"#, claims: claims()), "crit"),
                ("two years", Self.signed(header: header, claims: claims(exp: exp + 2 * 365 * 86_400)), "longer than"),
                ("empty sub", Self.signed(header: header, claims: claims(sub: "")), "sub"),
                ("CRLF sub", Self.signed(header: header, claims: claims(sub: "a\r\nb")), "sub"),
                ("NUL tenant", Self.signed(header: header, claims: claims(tenant: "acme\u{0}")), "tenant"),
            ]
            for (name, token, detail) in cases {
                let reply = try await server.send(.GET, "/v1/workflows", token: token)
                #expect(reply.status == 401, "\(name)")
                #expect(reply["detail"]?.stringValue?.contains(detail) == true, "\(name): \(reply.body)")
            }
        }
    }

    @Test(
        "failed authentications are limited per client address before any token is checked; TRACE is a 405; bodies that are not UTF-8 a 400"
    )
    func protocolEdges() async throws {
        // One failure every 100 s, bursts of 2: the third guess in a row is refused unread.
        try await ServerHarness.start(failedAuthenticationRate: 0.01).serving { server in
            let admin = try await server.token("acme", [.admin])
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await server.send(.GET, "/v1/runs", token: "guess").status) }
            #expect(statuses == [401, 401, 429, 429])
            let blocked = try await server.send(.GET, "/v1/runs", token: admin)
            #expect(blocked.status == 429 && blocked.headers["Retry-After"].first != nil)

            try await ServerHarness.start().serving { fresh in
                let token = try await fresh.token("acme", [.admin])
                let trace = try await fresh.send(HTTPMethod(rawValue: "TRACE"), "/v1/runs", token: token)
                #expect(trace.status == 405 && trace.headers["Allow"].first?.contains("GET") == true)
                var request = HTTPClientRequest(url: fresh.base + "/v1/runs")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                request.body = .bytes(
                    ByteBuffer(bytes: Array(#"{"workflow": "x"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                #expect(response.status.code == 400)
            }
        }
    }

    @Test(
        "a documented path asked with a method it lacks is a 405 naming the allowed methods; an undocumented path stays a 404; an empty query value is a 400"
    )
    func methodsAndQueryValues() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.admin])
            let delete = try await server.send(.DELETE, "/v1/runs", token: token)
            #expect(delete.status == 405 && delete.headers["Allow"].first == "GET, POST")
            #expect(delete["type"] == "https://uaef.dev/problems/method-not-allowed")
            let put = try await server.send(.PUT, "/v1/runs/run_x/cancel", token: token)
            #expect(put.status == 405 && put.headers["Allow"].first == "POST")
            // Unauthenticated, the answer is the same: the route table is public in /openapi.json.
            #expect(try await server.send(.DELETE, "/v1/agents/a/keys").status == 405)
            #expect(try await server.send(.DELETE, "/v1/nowhere", token: token).status == 404)
            #expect(try await server.send(.GET, "/v1/runs/run_x/cancel/extra", token: token).status == 404)
            for query in ["status=", "workflow=", "cursor="] {
                let empty = try await server.send(.GET, "/v1/runs?\(query)", token: token)
                #expect(empty.status == 400, "\(query)")
                #expect(empty["detail"]?.stringValue?.contains("is empty") == true)
            }
            #expect(try await server.send(.GET, "/v1/settlements?status=", token: token).status == 400)
        }
    }

    @Test("an ended run's cached report is no longer served once a redaction, wherever it ran, reaches the event log")
    func reportCacheFollowsRedaction() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            let run = try #require(
                try await server.send(
                    .POST, "/v1/runs", token: token, body: #"{"workflow": "hello", "inputs": {"who": "Ada Lovelace"}}"#)[
                        "run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: token).body.contains("Ada Lovelace"))
            #expect(try await server.send(.GET, "/v1/runs/\(run)", token: token).body.contains("Ada Lovelace"))
            // Redacted through the store, as `uaef ledger redact` on another node would.
            let engine = server.runtime.engine.forTenant("acme")
            guard case .redacted = try await engine.redact(RunID(run), task: nil, reason: "erasure", actor: "cli:dpo")
            else {
                Issue.record("not redacted")
                return
            }
            // The server learns of it from the event log: at once here, within its poll interval from
            // another process.
            let deadline = ContinuousClock.now + .seconds(5)
            var shown = try await server.send(.GET, "/v1/runs/\(run)", token: token).body
            while shown.contains("Ada Lovelace") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                shown = try await server.send(.GET, "/v1/runs/\(run)", token: token).body
            }
            #expect(!shown.contains("Ada Lovelace"))
        }
    }
}
