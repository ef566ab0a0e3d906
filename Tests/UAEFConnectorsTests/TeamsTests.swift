import Foundation
import Logging
import Testing
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

@testable import UAEFConnectors

@Suite("Microsoft Teams: Adaptive Cards to a channel's Workflows webhook")
struct TeamsTests {
    func event(_ type: String, subject: String, _ data: [String: JSONValue]) -> EventRecord {
        EventRecord(
            seq: 7,
            event: EventDraft(
                id: "evt_1", time: Date(timeIntervalSince1970: 1_764_900_000), type: type, actor: "engine",
                tenant: "acme", subject: subject, data: data))
    }

    /// Every text of a card's text runs.
    func runs(_ card: JSONValue) -> [String] {
        (card["body"]?.arrayValue ?? []).flatMap { element in
            (element["inlines"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        }
    }

    @Test(
        "events become Adaptive Cards that the published Adaptive Card 1.5 schema accepts; text from workflows is kept out of Markdown; cards link to the console when it is named"
    )
    func cards() async throws {
        let console = URL(string: "https://uaef.example.com/console-root")
        let approval = TeamsCard.event(
            event(
                "approval.requested", subject: "run_1/sign_off",
                [
                    "approval": "apr_7", "role": "finance", "approvers": 2,
                    "message": "Pay [here](https://evil.example)?",
                ]),
            console: console)
        #expect(runs(approval).contains("Pay [here](https://evil.example)?"))
        #expect(
            (approval["body"]?.arrayValue ?? []).allSatisfy {
                $0["type"] != "TextBlock" || $0["text"]?.stringValue?.contains("evil") == false
            })
        #expect(approval["actions"]?.arrayValue?.first?["url"] == "https://uaef.example.com/console-root/approvals")
        let failed = TeamsCard.event(event("run.failed", subject: "run_2", ["error": "boom"]), console: console)
        #expect(failed["actions"]?.arrayValue?.first?["url"] == "https://uaef.example.com/console-root/runs/run_2")
        let settlement = TeamsCard.event(
            event("settlement.pending_approval", subject: "stl_9", ["rule": "fees"]), console: nil)
        #expect(settlement["actions"] == nil && runs(settlement).contains("stl_9"))
        let posted = TeamsCard.card([
            TeamsCard.title("Paid"), ["type": "TextBlock", "text": "**1200 EUR**", "wrap": true],
        ])

        let directory = try TemporaryDirectory("cards")
        defer { directory.remove() }
        let file = directory.path("cards.json")
        try Data(JSONValue.array([approval, failed, settlement, posted]).jsonText.utf8).write(
            to: URL(fileURLWithPath: file))
        let checked = try await PythonScript.run("adaptive_card_check.py", [file])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.hasSuffix("4 cards checked, 0 problems"))
    }

    @Test(
        "posting to the fake Workflows webhook: 202 is delivered; a wrong signature or a deleted flow is abandoned without the URL's signature in the error; 429 is tried again after Retry-After"
    )
    func outcomes() async throws {
        let flow = FakeTeamsWorkflow(signature: "right-sig")
        try await flow.serving { port in
            let logger = Logger(label: "test")
            let card = TeamsCard.card([TeamsCard.title("hello")])
            func post(_ url: String) async throws -> DeliveryOutcome {
                let webhook = try await TeamsWebhook(settings: ["webhook_url": .string(url)], policy: .unrestricted)
                let outcome = await webhook.post(card, logger: logger)
                await webhook.shutdown()
                return outcome
            }
            guard case .delivered(202) = try await post(flow.url(port: port)) else {
                Issue.record("not delivered")
                return
            }
            #expect(flow.cards == [card])
            guard case .abandoned(401, let error) = try await post(flow.url(port: port, signature: "guess")) else {
                Issue.record("a wrong signature was not abandoned")
                return
            }
            #expect(error.contains("DirectApiInvalidAuthorizationSignature") && !error.contains("guess"))
            let deleted = flow.url(port: port).replacingOccurrences(of: flow.workflowID, with: "0000")
            guard case .abandoned(404, _) = try await post(deleted) else {
                Issue.record("a deleted flow was not abandoned")
                return
            }
            flow.limitNext(1, retryAfter: 9)
            guard case .failed(429, _, let retryAfter) = try await post(flow.url(port: port)) else {
                Issue.record("a rate limit was not to be retried")
                return
            }
            #expect(retryAfter == .seconds(9) && flow.cards.count == 1)
            await #expect(throws: AgentFailure.self) {
                _ = try await TeamsWebhook(settings: ["webhook_url": "not a url"], policy: .unrestricted)
            }
        }
    }

    @Test(
        "a teams connector's subscription delivers a failed run's event as a card; teams.post posts a workflow's card; the probe posts a test card"
    )
    func subscriptionAndTask() async throws {
        let flow = FakeTeamsWorkflow()
        try await flow.serving { port in
            try await ConnectorEngine.with(
                secrets: ["flow-url": flow.url(port: port)],
                connectors: """
                    connectors:
                      - name: ops
                        type: teams
                        webhook_url: {$secret: flow-url}
                        console_url: https://uaef.example.com
                        subscription: {events: [run.failed]}
                    """
            ) { connectors in
                let (status, tasks) = try await connectors.run(
                    """
                      - {id: tell, agent: teams.post, with: {connector: ops, title: Paid, text: "**${{ 600 * 2 }} EUR**"}}
                      - {id: boom, agent: teams.post, depends_on: [tell], with: {connector: nowhere, text: x}}
                    """)
                #expect(status == .failed)
                #expect(tasks["tell"]?.output == ["status": 202])
                let box = try SecretBox(key: Array(repeating: 5, count: 32))
                let workers = ConnectorWorkers(
                    store: connectors.store, engine: { _ in connectors.engine },
                    dispatch: TriggerDispatch(execute: { _, _ in }, signalled: { _ in }),
                    triggers: WorkflowTriggerIndex(store: connectors.store),
                    access: ConnectorAccess(policy: .unrestricted),
                    secrets: box, commits: nil, logger: Logger(label: "test"))
                #expect(try await workers.deliverDue(tenant: "default") == 1)
                let cards = flow.cards
                try #require(cards.count == 2)
                #expect(runs(cards[1]).contains("run.failed"))
                #expect(
                    cards[1]["actions"]?.arrayValue?.first?["url"]?.stringValue?.hasPrefix(
                        "https://uaef.example.com/runs/run_") == true)
                #expect(cards[0]["body"]?.arrayValue?.last?["text"] == "**1200 EUR**")

                let record = try #require(try await connectors.store.connector(named: "ops", tenant: "default"))
                let probe = await ConnectorProbe.probe(
                    record, store: connectors.store, secrets: box, access: ConnectorAccess(policy: .unrestricted),
                    logger: Logger(label: "test"))
                #expect(probe.ok && flow.cards.count == 3, "\(probe.detail)")
            }
        }
    }
}
