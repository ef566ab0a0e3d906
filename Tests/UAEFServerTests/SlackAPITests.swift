import Foundation
import NIOHTTP1
import Testing
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFServer
import UAEFStore
import UAEFTestSupport

@Suite("HTTP API: approvals decided from Slack")
struct SlackAPITests {
    static let signingSecret = "slack-signing-secret-for-tests"
    static let channel = "C0FAKE0001"

    /// A server whose `finance-slack` connector posts approval requests to the fake Slack and
    /// takes its buttons; the workflow `payout` waits for two finance approvals.
    func withSlack(
        approvals: Bool = true, _ body: (ServerHarness, FakeSlackServer, String) async throws -> Void
    ) async throws {
        let slack = FakeSlackServer(token: "xoxb-test-token", channels: [Self.channel])
        try await slack.serving { port in
            try await ServerHarness.start(
                secrets: try SecretBox(key: Array(repeating: 3, count: 32)),
                outbound: try OutboundPolicy(allowing: ["127.0.0.0/8"]), slackApprovals: approvals
            ).serving { server in
                let admin = try await server.token("acme", [.admin])
                for (name, value) in [("slack-bot", "xoxb-test-token"), ("slack-signing", Self.signingSecret)] {
                    let set = try await server.send(
                        .PUT, "/v1/secrets/\(name)", token: admin,
                        body: JSONValue.object(["value": .string(value)]).jsonText)
                    #expect(set.status == 200)
                }
                let workflow = """
                    name: payout
                    tasks:
                      - id: sign_off
                        agent: approval
                        with: {role: finance, approvers: 2, message: "Pay <!channel> 1200 EUR to ACME?"}
                        timeout: 5m
                      - {id: pay, agent: echo, depends_on: [sign_off], with: {paid: true}}
                    """
                #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
                let connectors = """
                    connectors:
                      - name: finance-slack
                        type: slack
                        token: {$secret: slack-bot}
                        signing_secret: {$secret: slack-signing}
                        channel: \(Self.channel)
                        team: \(FakeSlackServer.teamID)
                        api_url: http://127.0.0.1:\(port)/api
                        approvers:
                          U0ALICE01: {subject: alice, approves_as: [finance]}
                          U0BOB0001: {subject: bob, approves_as: [finance, legal]}
                          U0MAKER01: {subject: tester, approves_as: [finance]}
                          U0SALES01: {subject: carol, approves_as: [sales]}
                        subscription: {events: [approval.requested]}
                    """
                let saved = try await server.send(.POST, "/v1/connectors", token: admin, body: connectors)
                #expect(saved.status == 201, "\(saved.body)")
                try await body(server, slack, admin)
            }
        }
    }

    /// Presses `action` of `message` as `user`; the server's reply.
    func press(
        _ action: String, _ message: JSONValue, as user: String, on server: ServerHarness,
        secret: String = signingSecret, team: String = FakeSlackServer.teamID, at time: Date = Date(),
        path: String = "/v1/slack/acme/finance-slack"
    ) async throws -> ServerHarness.Reply {
        let (body, headers) = FakeSlackServer.interaction(
            pressing: action, in: message, user: user, team: team, signingSecret: secret, at: time)
        return try await server.send(.POST, path, body: body, headers: headers)
    }

    /// The last ephemeral message shown to `user`.
    func whisper(to user: String, in slack: FakeSlackServer) -> String {
        slack.ephemeralMessages.last { $0["user"]?.stringValue == user }?["text"]?.stringValue ?? ""
    }

    @Test(
        "an approval request is posted with buttons; mapped finance approvers decide it from Slack under maker-checker, the first told its approval waits, the deciding press updating the message; strangers, the maker, the wrong role and forged or stale requests record nothing"
    )
    func approvesFromSlack() async throws {
        try await withSlack { server, slack, admin in
            let operatorToken = try await server.token("acme", [.operator])
            let started = try await server.send(
                .POST, "/v1/runs", token: operatorToken, body: #"{"workflow": "payout"}"#)
            #expect(started.status == 201 || started.status == 202, "\(started.body)")
            let run = try #require(started["run_id"]?.stringValue ?? started["id"]?.stringValue)
            let deadline = ContinuousClock.now + .seconds(30)
            while slack.messages.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let posted = try #require(slack.messages.first, "the approval request reached Slack")
            #expect(posted["channel"]?.stringValue == Self.channel)
            #expect(posted["text"]?.stringValue?.contains("Pay &lt;!channel&gt; 1200 EUR to ACME?") == true)
            let approval = try #require(
                posted["blocks"]?.arrayValue?.last?["elements"]?.arrayValue?.first?["value"]?.stringValue)
            #expect(approval.hasPrefix("apr_"))

            // Forged, stale, another workspace, another tenant's path, unknown connector.
            let forged = try await press(
                SlackMessage.approveAction, posted, as: "U0ALICE01", on: server, secret: "guess")
            #expect(forged.status == 401 && forged["type"] == "https://uaef.dev/problems/invalid-signature")
            let stale = try await press(
                SlackMessage.approveAction, posted, as: "U0ALICE01", on: server, at: Date().addingTimeInterval(-600))
            #expect(stale.status == 401 && stale["detail"]?.stringValue?.contains("in the past") == true)
            for path in ["/v1/slack/globex/finance-slack", "/v1/slack/acme/nothing"] {
                #expect(
                    try await press(SlackMessage.approveAction, posted, as: "U0ALICE01", on: server, path: path).status
                        == 404)
            }
            let elsewhere = try await press(
                SlackMessage.approveAction, posted, as: "U0ALICE01", on: server, team: "T0OTHER01")
            #expect(elsewhere.status == 200)
            #expect(whisper(to: "U0ALICE01", in: slack).contains("not the one connector finance-slack serves"))

            // Slack users who may not decide: each told why, nothing recorded.
            #expect(try await press(SlackMessage.approveAction, posted, as: "U0STRANGE1", on: server).status == 200)
            #expect(whisper(to: "U0STRANGE1", in: slack).contains("not an approver in UAEF"))
            _ = try await press(SlackMessage.approveAction, posted, as: "U0MAKER01", on: server)
            #expect(whisper(to: "U0MAKER01", in: slack).contains("maker-checker"))
            _ = try await press(SlackMessage.approveAction, posted, as: "U0SALES01", on: server)
            #expect(whisper(to: "U0SALES01", in: slack).contains("may not approve as 'finance'"))
            let pending = try await server.send(.GET, "/v1/approvals", token: admin)
            #expect(pending.body.contains(approval), "\(pending.body)")

            // The first of two approvals: the presser is told; the message keeps its buttons.
            #expect(try await press(SlackMessage.approveAction, posted, as: "U0ALICE01", on: server).status == 200)
            #expect(whisper(to: "U0ALICE01", in: slack).contains("Approved by <@U0ALICE01> (api:alice)"))
            #expect(whisper(to: "U0ALICE01", in: slack).contains("waits for more approvers"))
            let once = try #require(slack.messages.first)
            #expect(once == posted, "only the deciding press updates the message")
            _ = try await press(SlackMessage.approveAction, posted, as: "U0ALICE01", on: server)
            #expect(whisper(to: "U0ALICE01", in: slack).contains("already decided"))

            // The second: decided, the buttons gone, the run goes on.
            _ = try await press(SlackMessage.approveAction, once, as: "U0BOB0001", on: server)
            let done = try #require(slack.messages.first)
            #expect(done["blocks"]?.arrayValue?.contains { $0["type"] == "actions" } == false)
            #expect(done["text"]?.stringValue?.contains("\(approval) is approved") == true, "\(done)")
            let ended = try await server.waitForRun(run, token: admin)
            #expect(ended["status"] == "succeeded", "\(ended.body)")

            // The ledger names the people, as the API would, and that they acted in Slack.
            let events = try await server.store.events(in: 0..<10_000, tenant: "acme")
            let recorded = events.filter { $0.event.type == "approval.recorded" }
            #expect(recorded.map(\.event.actor) == ["api:alice", "api:bob"])
            #expect(recorded.map { $0.event.data["reason"] } == ["in Slack by U0ALICE01", "in Slack by U0BOB0001"])
            // Who may approve from Slack, as whom, is in the ledger with the admin who said so.
            let saved = try #require(events.last { $0.event.type == "connector.saved" })
            #expect(saved.event.data["approvers"]?["U0ALICE01"] == ["subject": "alice", "approves_as": ["finance"]])
            #expect(saved.event.actor == "api:tester")
        }
    }

    @Test(
        "on a server that does not allow Slack approvals, a mapped approver's press records nothing and says how to decide; the request is still posted"
    )
    func approvalsOffByDefault() async throws {
        try await withSlack(approvals: false) { server, slack, _ in
            let started = try await server.send(
                .POST, "/v1/runs", token: try await server.token("acme", [.operator]), body: #"{"workflow": "payout"}"#)
            #expect(started.status == 201 || started.status == 202, "\(started.body)")
            let deadline = ContinuousClock.now + .seconds(30)
            while slack.messages.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let posted = try #require(slack.messages.first)
            #expect(try await press(SlackMessage.approveAction, posted, as: "U0ALICE01", on: server).status == 200)
            #expect(whisper(to: "U0ALICE01", in: slack).contains("--allow-slack-approvals"))
            #expect(slack.messages.first == posted)
            let events = try await server.store.events(in: 0..<10_000, tenant: "acme")
            #expect(!events.contains { $0.event.type == "approval.recorded" })
        }
    }

    @Test("a Slack rejection fails the waiting task at once and the message says who rejected it")
    func rejectsFromSlack() async throws {
        try await withSlack { server, slack, admin in
            let started = try await server.send(
                .POST, "/v1/runs", token: try await server.token("acme", [.operator]), body: #"{"workflow": "payout"}"#)
            let run = try #require(started["run_id"]?.stringValue ?? started["id"]?.stringValue)
            let deadline = ContinuousClock.now + .seconds(30)
            while slack.messages.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let posted = try #require(slack.messages.first)
            #expect(try await press(SlackMessage.rejectAction, posted, as: "U0BOB0001", on: server).status == 200)
            let done = try #require(slack.messages.first)
            #expect(done["text"]?.stringValue?.contains("Rejected by <@U0BOB0001> (api:bob)") == true, "\(done)")
            #expect(done["blocks"]?.arrayValue?.contains { $0["type"] == "actions" } == false)
            let ended = try await server.waitForRun(run, token: admin)
            #expect(ended["status"] == "failed", "\(ended.body)")
        }
    }
}
