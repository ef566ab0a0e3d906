import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// The web console driven in headless Chromium (Tests/Support/console_browser.py) against a real
/// `uaef serve`, and its sign-in and form checks probed over plain HTTP.
@Suite("The web console in a browser")
struct ConsoleBrowserTests {
    let serve = ServeCLITests()

    /// Where the browser test leaves its screenshots: `UAEF_SCREENSHOTS`, else `.build/console-screenshots`.
    static var screenshots: String {
        ProcessInfo.processInfo.environment["UAEF_SCREENSHOTS"]
            ?? Fixtures.packageRoot.appendingPathComponent(".build/console-screenshots").path
    }

    /// A server with tokens for an operator and a viewer of `acme` and an operator of `globex`.
    func withServer(
        _ body: (_ base: String, _ tokens: [String: String], _ directory: TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory("console")
        defer { directory.remove() }
        try Data("a-shared-secret-for-the-console-test-48-bytes!!!".utf8).write(
            to: directory.url.appendingPathComponent("secret"))
        var tokens: [String: String] = [:]
        for (name, subject, tenant, roles) in [
            ("operator", "olga", "acme", "operator,approver,auditor"), ("approver", "carol", "acme", "approver"),
            ("viewer", "vic", "acme", "viewer"), ("stranger", "sam", "globex", "operator"),
        ] {
            let issued = try UAEFProcess.run(
                [
                    "tokens", "issue", "--sub", subject, "--tenant", tenant, "--roles", roles, "--ttl", "30m", "--json",
                    "--token-secret-file", "secret", "--approves-as", "finance",
                ], in: directory.url)
            tokens[name] = try #require(try issued.json().objectValue?["token"]?.stringValue, "\(issued.stderr)")
        }
        let (server, port, _) = try await serve.startServer(
            ["--store", "sqlite:" + directory.path("uaef.db"), "--token-secret-file", "secret"], in: directory)
        defer { server.terminate() }
        try await body("http://127.0.0.1:\(port)", tokens, directory)
    }

    /// Registers `yaml` as `token`'s tenant's workflow.
    func register(_ yaml: String, base: String, token: String) async throws {
        let answer = try await serve.send(.POST, base + "/v1/workflows", token: token, body: yaml)
        #expect(answer["version"] == 1, "\(answer)")
    }

    @Test(
        "in Chromium: sign in, start a run and watch it finish live, open a failed task's error, a viewer has no actions, an operator cancels and pauses a schedule, analytics count the runs, another tenant finds nothing, sign out"
    )
    func browser() async throws {
        try await withServer { base, tokens, _ in
            let operatorToken = try #require(tokens["operator"])
            try await register(
                """
                name: quick
                tasks:
                  - {id: fetch, agent: echo, with: {invoice: INV-1}}
                  - {id: wait, agent: sleep, depends_on: [fetch], with: {duration: 2s}}
                  - {id: post, agent: echo, depends_on: [wait], with: {posted: true}}
                """, base: base, token: operatorToken)
            // The quick run's success books 1,500.00, which needs one finance approver.
            let rules = try await serve.send(
                .POST, base + "/v1/rules", token: operatorToken,
                body: """
                    accounts:
                      - {id: "expense:quick", type: expense, currency: EUR}
                      - {id: "payable:quick", type: liability, currency: EUR}
                    rules:
                      - id: quick-fee
                        on: run.succeeded
                        match: {workflow: quick}
                        amount: {fixed: "1500.00"}
                        currency: EUR
                        from: "expense:quick"
                        to: "payable:quick"
                        approval: {above: "1000.00", approvers: 1, role: finance}
                    """)
            #expect(rules["rules"] == ["quick-fee"], "\(rules)")
            try await register(
                """
                name: broken
                tasks:
                  - {id: wait, agent: sleep, with: {duration: soon}}
                """, base: base, token: operatorToken)
            try await register(
                """
                name: slow
                tasks:
                  - {id: nap, agent: sleep, with: {duration: 10m}}
                """, base: base, token: operatorToken)
            let slow = try #require(
                try await serve.send(.POST, base + "/v1/runs", token: operatorToken, body: #"{"workflow":"slow"}"#)[
                    "run_id"]?.stringValue)
            // A schedule the operator pauses from its page. Its one slot in four years (a leap
            // day's midnight) cannot fall in the test: an hourly one did once (a second quick run
            // and its settlement in the approvals inbox).
            try await register(
                """
                name: tick
                tasks:
                  - {id: tick, agent: noop}
                """, base: base, token: operatorToken)
            let schedules = try await serve.send(
                .POST, base + "/v1/schedules", token: operatorToken,
                body: "schedules:\n  - {name: leap-tick, workflow: tick, cron: \"0 0 29 2 *\"}\n")
            #expect(schedules["saved"]?.arrayValue?.count == 1, "\(schedules)")
            let agents = try await serve.send(
                .POST, base + "/v1/agents", token: operatorToken,
                body: "agents:\n  - {name: counter, kind: remote, capabilities: [count], activate: true}")
            #expect(agents["agents"]?.arrayValue?.first?["status"] == "active", "\(agents)")
            var arguments = tokens
            arguments["slow_run"] = slow
            let (status, output) = try await ExternalProcess.run(
                [
                    "python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/console_browser.py").path,
                    base, JSONValue.object(arguments.mapValues(JSONValue.string)).jsonText, Self.screenshots,
                ], withErrors: true)
            try #require(status == 0, "\(output)")
            let seen = try JSONValue(jsonText: try #require(output.split(separator: "\n").last.map(String.init)))
            // Seconds from the browser's start to each screenshot, for whoever wonders where time goes.
            print(
                "console browser test: screenshots in \(Self.screenshots), taken at \(seen["timings"]?.jsonText ?? "?") s"
            )
            #expect(seen["cookie"] == ["httpOnly": true, "sameSite": "Strict"])
            #expect(seen["quick_live"] == true, "the run page updated without a reload")
            #expect(["pending", "running"].contains(seen["quick_seen_running"]?.stringValue ?? ""))
            #expect(seen["quick_graph_states"]?.arrayValue?.contains("succeeded") == true)
            let events = seen["quick_events"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(events.first == "run.created" && events.last == "run.succeeded", "\(events)")
            #expect(seen["proof_verified"]?.stringValue?.hasPrefix("Verified in this browser") == true, "\(seen)")
            #expect(seen["proof_event"]?.stringValue?.contains(#""type":"run.succeeded""#) == true)
            #expect(seen["tampered"] == "Not verified: the event's bytes do not hash to its leaf hash")
            let input = seen["task_input"]?.stringValue ?? ""
            #expect(input.contains("\"posted\"") && input.contains("true"), "\(seen)")
            #expect(seen["task_status"] == "succeeded")
            #expect(seen["broken_live"] == true)
            #expect(seen["schedule_state"] == "paused", "the operator paused the schedule from its page")
            #expect(seen["viewer_schedule_moves"] == 0, "a viewer gets no schedule actions")
            #expect(seen["task_error"]?.stringValue?.contains("sleep: duration must be") == true, "\(seen)")
            let quick = try #require(seen["runs"]?["quick"]?.stringValue)
            let broken = try #require(seen["runs"]?["broken"]?.stringValue)
            #expect(seen["listed"]?.arrayValue?.compactMap(\.stringValue) == [broken, quick, slow])
            #expect(seen["listed_failed"]?.arrayValue?.compactMap(\.stringValue) == [broken])
            // Each listed run's tasks: how many ended, of how many; every task of the failed run ended.
            let progress = seen["listed_tasks"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let counts = progress.map { $0.split(separator: " ").compactMap { Int($0) } }
            #expect(
                counts.count == 3 && counts.allSatisfy { $0.count == 2 && $0[0] <= $0[1] && $0[1] > 0 }, "\(progress)")
            #expect(counts.first.map { $0.count == 2 && $0[0] == $0[1] } == true, "\(progress)")
            #expect(
                seen["maker_notice"]?.stringValue?.contains("was not approved") == true
                    && seen["maker_notice"]?.stringValue?.contains("api:olga") == true, "\(seen)")
            #expect(seen["approver_notice"] == .string("\(seen["settlement"]?.stringValue ?? "?") approved."))
            #expect(seen["still_waiting"] == 0)
            let settlement = try #require(seen["settlement"]?.stringValue)
            let settled = try await serve.send(.GET, base + "/v1/settlements/\(settlement)", token: operatorToken)
            #expect(settled["status"] == "posted", "\(settled)")
            #expect(seen["settlement_run"] == .string(quick))
            #expect(seen["trial_balance"]?.stringValue?.hasSuffix("the journal balances.") == true, "\(seen)")
            #expect(seen["payable"] == "1500.00")
            #expect(seen["viewer_start_forms"] == 0)
            #expect(seen["viewer_cancel_buttons"] == 0)
            #expect(seen["viewer_status"] == "running")
            #expect(seen["cancel_live"] == true)
            #expect(seen["viewer_agent_moves"] == 0)
            #expect(seen["agent_status"] == "suspended")
            #expect(seen["stranger_heading"] == "Not found")
            #expect(seen["stranger_sees_run"] == false)
            #expect(seen["stranger_task_heading"] == "Not found")
            #expect(seen["after_sign_out"]?.stringValue?.hasPrefix("/login") == true)
            // Total, succeeded, failed, cancelled by workflow; a chart of outcomes and one of durations.
            #expect(
                seen["analytics_workflows"]
                    == [
                        "quick": ["1", "1", "0", "0"], "broken": ["1", "0", "1", "0"], "slow": ["1", "0", "0", "1"],
                    ],
                "\(seen)")
            #expect(seen["analytics_charts"] == 2)
            #expect(seen["analytics_rule_amount"] == "1500.00 EUR")
            #expect(seen["screenshots"]?.arrayValue?.count == 12)
        }
    }

    @Test(
        "sign-in refuses bad tokens and agent keys; forms need the session's CSRF token and this origin; pages carry a CSP and the cookie is HttpOnly and SameSite=Strict"
    )
    func signInAndForms() async throws {
        try await withServer { base, tokens, _ in
            let operatorToken = try #require(tokens["operator"])
            // Without a session a page sends the visitor to sign in, and comes back after.
            let visit = try await Self.request(.GET, base + "/runs?status=failed")
            #expect(visit.status == .seeOther)
            #expect(visit.headers["location"].first == "/login?next=%2Fruns%3Fstatus%3Dfailed")

            let refused = try await Self.request(.POST, base + "/login", form: "token=not-a-token")
            #expect(refused.status == .unauthorized)
            #expect(refused.body.contains("The token was refused"))
            #expect(refused.headers["set-cookie"].isEmpty)
            let agentKey = try await Self.request(
                .POST, base + "/login", form: "token=uaef_ak_\(String(repeating: "A", count: 43))")
            #expect(agentKey.status == .unauthorized && agentKey.headers["set-cookie"].isEmpty)

            let signedIn = try await Self.request(
                .POST, base + "/login", form: "token=\(operatorToken)&next=%2F%2Fevil.example")
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers["location"].first == "/runs", "no redirect off the site")
            let cookie = try #require(signedIn.headers["set-cookie"].first)
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age="))
            #expect(!cookie.contains("Secure"), "plain HTTP on loopback")
            let session = String(cookie.prefix { $0 != ";" })

            let page = try await Self.request(.GET, base + "/runs", cookie: session)
            #expect(page.status == .ok)
            #expect(page.headers["content-security-policy"].first?.contains("script-src 'self'") == true)
            let csrf = try #require(
                page.body.range(of: #"name="csrf-token" content=""#).map {
                    String(page.body[$0.upperBound...].prefix { $0 != "\"" })
                })

            // A form without the token, with another session's, or from another site changes nothing.
            let form = "workflow=anything"
            let missing = try await Self.request(.POST, base + "/runs", cookie: session, form: form)
            #expect(missing.status == .forbidden)
            #expect(missing.body.contains("CSRF token does not match"))
            let crossSite = try await Self.request(
                .POST, base + "/runs", cookie: session, form: form + "&csrf=\(csrf)",
                headers: ["Origin": "https://evil.example"])
            #expect(crossSite.status == .forbidden)
            let unknown = try await Self.request(.POST, base + "/runs", cookie: session, form: form + "&csrf=\(csrf)")
            #expect(unknown.status == .notFound, "the right token gets as far as the workflow lookup")
            #expect(unknown.body.contains("workflow &#39;anything&#39;") || unknown.body.contains("anything"))
            #expect(try await serve.send(.GET, base + "/v1/runs", token: operatorToken)["runs"] == [])

            // An ended or forged session is sent back to sign in, its cookie cleared.
            let forged = try await Self.request(.GET, base + "/runs", cookie: "uaef_session=eyJ.eyJ.forged")
            #expect(forged.status == .seeOther)
            #expect(forged.headers["location"].first?.hasSuffix("&ended=1") == true)
            #expect(forged.headers["set-cookie"].first?.contains("Max-Age=0") == true)
        }
    }

    struct Answer {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: String
    }

    /// A client that reports redirects instead of following them.
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))

    static func request(
        _ method: HTTPMethod, _ url: String, cookie: String? = nil, form: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: cookie) }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        var body = try await response.body.collect(upTo: 1 << 22)
        return Answer(
            status: response.status, headers: response.headers,
            body: body.readString(length: body.readableBytes) ?? "")
    }
}
