import Foundation
import Logging
import Testing
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

@Suite("Slack: request signatures, messages, interactions and the Web API client")
struct SlackTests {
    /// Slack's published example ("Verifying requests from Slack", docs.slack.dev): a slash
    /// command's body, its timestamp, the example signing secret and the signature Slack sent.
    enum Published {
        static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
        static let timestamp = "1531420618"
        static let body =
            "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        static let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        static let sent = Date(timeIntervalSince1970: 1_531_420_618)
    }

    func refusal(
        signature: String? = Published.signature, timestamp: String? = Published.timestamp,
        body: String = Published.body, secrets: [String] = [Published.secret], now: Date = Published.sent
    ) -> String? {
        do {
            try SlackSignature.verify(
                signature: signature, timestamp: timestamp, body: Array(body.utf8), secrets: secrets, now: now)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(
        "Slack's published example verifies, also under a second secret and 299 s late; a changed body, another secret, a stale or future timestamp and missing headers are refused, each saying why"
    )
    func publishedExample() {
        #expect(
            SlackSignature.signature(
                timestamp: Published.timestamp, body: Array(Published.body.utf8), secret: Published.secret)
                == Published.signature)
        #expect(refusal() == nil)
        #expect(refusal(secrets: ["rotated-away", Published.secret]) == nil)
        #expect(refusal(now: Published.sent.addingTimeInterval(299)) == nil)
        #expect(refusal(body: Published.body + "&x=1")?.contains("does not match") == true)
        #expect(refusal(secrets: ["another-secret"])?.contains("does not match") == true)
        #expect(refusal(now: Published.sent.addingTimeInterval(301))?.contains("301 s in the past") == true)
        #expect(refusal(now: Published.sent.addingTimeInterval(-400))?.contains("in the future") == true)
        #expect(refusal(signature: nil)?.contains("X-Slack-Signature is missing") == true)
        #expect(refusal(timestamp: nil)?.contains("X-Slack-Request-Timestamp header is missing") == true)
        #expect(refusal(timestamp: "soon")?.contains("not a Unix time") == true)
        #expect(refusal(signature: "v1=" + Published.signature.dropFirst(3)) != nil)
    }

    @Test("Slack's Python SDK verifies what UAEF signs, and UAEF verifies what the SDK signs")
    func agreesWithSlackSDK() async throws {
        let directory = try TemporaryDirectory("slack")
        defer { directory.remove() }
        let secret = "s" + UUID().uuidString.lowercased()
        let message = JSONValue.object(["blocks": [], "ts": "1764900000.000101", "channel": "C0FAKE0001"])
        let body =
            FakeSlackServer.interaction(
                pressing: SlackMessage.approveAction, in: message, user: "U0ALICE01", signingSecret: secret
            ).body + "&note=caf%C3%A9+%26+more"
        let file = directory.path("body")
        try Data(body.utf8).write(to: URL(fileURLWithPath: file))
        let now = "\(Int64(Date().timeIntervalSince1970))"
        let ours = SlackSignature.signature(timestamp: now, body: Array(body.utf8), secret: secret)
        let verified = try await PythonScript.run("slack_sdk_check.py", ["verify", secret, now, ours, file])
        #expect(verified.status == 0, "\(verified.output)")
        let refused = try await PythonScript.run("slack_sdk_check.py", ["verify", "other", now, ours, file])
        #expect(refused.status == 1, "\(refused.output)")
        let signed = try await PythonScript.run("slack_sdk_check.py", ["sign", secret, now, file])
        #expect(signed.status == 0 && signed.output == ours, "\(signed.output)")
        try SlackSignature.verify(
            signature: signed.output, timestamp: now, body: Array(body.utf8), secrets: [secret], now: Date())
    }

    func event(_ type: String, subject: String, _ data: [String: JSONValue]) -> EventRecord {
        EventRecord(
            seq: 41,
            event: EventDraft(
                id: "evt_1", time: Date(timeIntervalSince1970: 1_764_900_000), type: type, actor: "engine",
                tenant: "acme", subject: subject, data: data))
    }

    @Test(
        "an approval request becomes a message with Approve and Reject buttons for its id; text from the workflow cannot mention @channel or forge a link"
    )
    func approvalMessage() throws {
        let message = SlackMessage.event(
            event(
                "approval.requested", subject: "run_1/cfo_sign_off",
                [
                    "approval": "apr_7", "role": "finance", "approvers": 2,
                    "message": "Pay <!channel> & <https://evil.example|your bank>?",
                ]))
        #expect(
            message.text == "Approval requested: Pay &lt;!channel&gt; &amp; &lt;https://evil.example|your bank&gt;?")
        try #require(message.blocks.count == 3)
        let section = try #require(message.blocks.first?["text"]?["text"]?.stringValue)
        #expect(!section.contains("<!channel>") && !section.contains("<https://"))
        let context = message.blocks[1]["elements"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        #expect(context.contains("`finance`") && context.contains("2 approvers") && context.contains("`cfo_sign_off`"))
        let buttons = try #require(message.blocks.last)
        #expect(buttons["block_id"]?.stringValue == SlackMessage.decisionBlock)
        #expect(
            buttons["elements"]?.arrayValue?.map { [$0["action_id"], $0["value"], $0["style"]] }
                == [
                    [.string(SlackMessage.approveAction), "apr_7", "primary"],
                    [.string(SlackMessage.rejectAction), "apr_7", "danger"],
                ])
        let settlement = SlackMessage.event(event("settlement.pending_approval", subject: "stl_9", ["rule": "fees"]))
        #expect(settlement.blocks.last?["elements"]?.arrayValue?.first?["value"] == "stl_9")
        let other = SlackMessage.event(event("run.failed", subject: "run_2", ["error": "boom"]))
        #expect(other.text == "run.failed: run_2")
        #expect(other.blocks.count == 3 && other.blocks.allSatisfy { $0["type"] != "actions" })

        let decided = SlackMessage.decided(message.blocks, line: "Approved by <@U0ALICE01>")
        #expect(decided.blocks.count == 3 && decided.blocks.allSatisfy { $0["type"] != "actions" })
        #expect(decided.blocks.last?["elements"]?.arrayValue?.first?["text"] == "Approved by <@U0ALICE01>")
    }

    @Test("an interaction payload is read from Slack's form body; a body without a JSON payload is refused")
    func interaction() throws {
        let message = JSONValue.object([
            "ts": "1764900000.000101", "channel": "C0FAKE0001",
            "blocks": .array(
                SlackMessage.event(
                    event("approval.requested", subject: "run_1/t", ["approval": "apr_7", "message": "ok?"])
                ).blocks),
        ])
        let (body, _) = FakeSlackServer.interaction(
            pressing: SlackMessage.rejectAction, in: message, user: "U0ALICE01", signingSecret: "x")
        let read = try SlackInteraction.parse(form: Array(body.utf8))
        #expect(read.type == "block_actions" && read.user == "U0ALICE01" && read.team == FakeSlackServer.teamID)
        #expect(read.channel == "C0FAKE0001" && read.messageTS == "1764900000.000101" && read.blocks.count == 3)
        #expect(read.decisions.map(\.approval) == ["apr_7"] && read.decisions.map(\.approve) == [false])
        for bad in ["", "payload=%7B", "text=hello", "payload=%5B1%5D", "payload=%FF"] {
            #expect(throws: SlackInteraction.Malformed.self) { try SlackInteraction.parse(form: Array(bad.utf8)) }
        }
    }

    @Test(
        "the Web API client posts, updates and whispers through the fake Slack; refusals that need a person are not transient, a rate limit is, with its Retry-After"
    )
    func client() async throws {
        let slack = FakeSlackServer(token: "xoxb-1-test")
        try await slack.serving { port in
            let api = "http://127.0.0.1:\(port)/api"
            let logger = Logger(label: "test")
            let client = try await SlackClient(
                settings: ["token": "xoxb-1-test", "api_url": .string(api)], policy: .unrestricted)
            let posted = try await client.post(
                SlackMessage(text: "hi", blocks: [["type": "section", "text": ["type": "mrkdwn", "text": "*hi*"]]]),
                to: "C0FAKE0001", logger: logger)
            #expect(posted.channel == "C0FAKE0001" && !posted.ts.isEmpty)
            try await client.update(SlackMessage(text: "bye"), channel: "C0FAKE0001", ts: posted.ts, logger: logger)
            try await client.whisper(SlackMessage(text: "psst"), to: "U0ALICE01", in: "C0FAKE0001", logger: logger)
            #expect(slack.messages.map { $0["text"] } == ["bye"] && slack.messages.first?["edited"] != nil)
            #expect(slack.ephemeralMessages.map { $0["user"] } == ["U0ALICE01"])

            await #expect {
                _ = try await client.post(SlackMessage(text: "x"), to: "C0NOWHERE1", logger: logger)
            } throws: { error in
                let error = error as? SlackAPIError
                return error?.code == "channel_not_found" && error?.isTransient == false
            }
            slack.limitNext(1, retryAfter: 7)
            await #expect {
                _ = try await client.post(SlackMessage(text: "x"), to: "C0FAKE0001", logger: logger)
            } throws: { error in
                let error = error as? SlackAPIError
                return error?.status == 429 && error?.isTransient == true && error?.retryAfter == .seconds(7)
            }
            await client.shutdown()
            let wrong = try await SlackClient(
                settings: ["token": "xoxb-other", "api_url": .string(api)], policy: .unrestricted)
            await #expect {
                _ = try await wrong.call("auth.test", [:], logger: logger)
            } throws: { error in
                (error as? SlackAPIError)?.code == "invalid_auth"
            }
            await wrong.shutdown()
            // The server's outbound policy governs where a connector's calls go.
            await #expect(throws: AgentFailure.self) {
                _ = try await SlackClient(
                    settings: ["token": "xoxb-1-test", "api_url": .string(api)], policy: .publicOnly)
            }
        }
    }

    @Test("the fake Slack Web API answers Slack's official Python SDK as Slack does: calls, errors and a rate limit")
    func fakeAgreesWithSlackSDK() async throws {
        let slack = FakeSlackServer(token: "xoxb-2-test")
        slack.limitNext(1, retryAfter: 7)
        try await slack.serving { port in
            let run = try await PythonScript.run(
                "slack_sdk_check.py", ["client", "http://127.0.0.1:\(port)/api", "xoxb-2-test", "C0FAKE0001"])
            #expect(run.status == 0, "\(run.output)")
            let seen = try JSONValue(jsonText: run.output.split(separator: "\n").last.map(String.init) ?? "")
            #expect(seen["rate_limited"] == ["status": 429, "retry_after": "7", "error": "ratelimited"])
            #expect(seen["auth"]?["team_id"]?.stringValue == FakeSlackServer.teamID)
            #expect(seen["posted"]?["ok"] == true && seen["posted"]?["channel"] == "C0FAKE0001")
            #expect(seen["posted"]?["blocks"]?.arrayValue?.first?["type"] == "section")
            #expect(seen["updated"]?["text"] == "hello again" && seen["updated"]?["ts"] == seen["posted"]?["ts"])
            #expect(seen["ephemeral"]?["has_ts"] == true)
            #expect(
                seen["errors"]
                    == [
                        "unknown_channel": "channel_not_found", "no_text": "no_text", "unknown_ts": "message_not_found",
                        "bad_token": "invalid_auth",
                    ])
        }
    }

    @Test(
        "slack.post posts a workflow's message to the connector's channel or the one named; an unknown channel fails the task at once; a text past Slack's limit and blocks holding UAEF's approval buttons are refused before any call; the connector's probe names the bot's workspace"
    )
    func postKind() async throws {
        let slack = FakeSlackServer(token: "xoxb-3-test", channels: ["C0FAKE0001", "C0OTHER001"])
        try await slack.serving { port in
            try await ConnectorEngine.with(
                secrets: ["bot": "xoxb-3-test"],
                connectors: """
                    connectors:
                      - {name: team, type: slack, token: {$secret: bot}, channel: C0FAKE0001, api_url: "http://127.0.0.1:\(port)/api"}
                    """
            ) { connectors in
                let (status, tasks) = try await connectors.run(
                    """
                      - {id: total, agent: echo, with: {amount: "1200.00"}}
                      - {id: tell, agent: slack.post, depends_on: [total], with: {connector: team, text: "Paid *${{ tasks.total.output.amount }} EUR*"}}
                      - {id: other, agent: slack.post, with: {connector: team, channel: C0OTHER001, text: hi, blocks: [{type: divider}]}}
                    """)
                #expect(status == .succeeded, "\(tasks.mapValues(\.error))")
                #expect(tasks["tell"]?.output?["channel"] == "C0FAKE0001")
                #expect(tasks["tell"]?.output?["ts"]?.stringValue?.isEmpty == false)
                #expect(
                    slack.messages.map { [$0["channel"], $0["text"]] }
                        == [["C0FAKE0001", "Paid *1200.00 EUR*"], ["C0OTHER001", "hi"]]
                        || slack.messages.map { [$0["channel"], $0["text"]] }
                            == [["C0OTHER001", "hi"], ["C0FAKE0001", "Paid *1200.00 EUR*"]]
                )

                let refused = try await connectors.run(
                    """
                      - {id: forged, agent: slack.post, with: {connector: team, text: ok, blocks: [{type: actions, elements: [{type: button, action_id: uaef.approve, value: apr_1, text: {type: plain_text, text: Acknowledge}}]}]}}
                      - {id: lost, agent: slack.post, retry: {max_attempts: 3, backoff: 1s}, with: {connector: team, channel: C0NOWHERE1, text: hi}}
                      - {id: long, agent: slack.post, with: {connector: team, text: "\(String(repeating: "x", count: 40_001))"}}
                    """)
                #expect(refused.status == .failed)
                #expect(refused.tasks["lost"]?.attempts == 1)
                #expect(refused.tasks["lost"]?.error?.contains("channel_not_found") == true)
                #expect(refused.tasks["long"]?.error?.contains("at most 40000") == true)
                // A workflow cannot post a button that would decide an approval when pressed.
                #expect(refused.tasks["forged"]?.error?.contains("may not hold action ids starting uaef.") == true)
                #expect(slack.messages.count == 2)

                // `uaef connectors test`: auth.test names the bot and the workspace.
                let record = try #require(try await connectors.store.connector(named: "team", tenant: "default"))
                let probe = await ConnectorProbe.probe(
                    record, store: connectors.store, secrets: try SecretBox(key: Array(repeating: 5, count: 32)),
                    access: ConnectorAccess(policy: .unrestricted), logger: Logger(label: "test"))
                #expect(probe.ok && probe.detail.contains(FakeSlackServer.teamID), "\(probe.detail)")
            }
        }
    }
}
