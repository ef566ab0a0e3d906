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

@Suite("Jira: issues from workflows and subscriptions, once each")
struct JiraTests {
    static func connectors(port: Int, subscription: Bool = false) -> String {
        """
        connectors:
          - name: ops-jira
            type: jira
            url: http://127.0.0.1:\(port)
            email: automation@example.com
            api_token: {$secret: jira-token}
            project: OPS
            issue_type: Bug\(subscription ? "\n    subscription: {events: [run.failed]}" : "")
        """
    }

    @Test(
        "jira.issue.create opens an issue with an ADF description and labels; retried after Jira created it but the answer was lost, it finds that issue instead of opening another; a refused issue fails at once with Jira's reasons"
    )
    func createsOnce() async throws {
        let jira = FakeJiraServer()
        try await jira.serving { port in
            try await ConnectorEngine.with(
                secrets: ["jira-token": "fake-api-token"], connectors: Self.connectors(port: port)
            ) { connectors in
                jira.failNextCreates(1)
                let (status, tasks) = try await connectors.run(
                    """
                      - id: ticket
                        agent: jira.issue.create
                        retry: {max_attempts: 3, backoff: 10ms}
                        with:
                          connector: ops-jira
                          summary: "Reconcile ${{ 'ACME' }} failed"
                          description: "The ledger did not balance.\\n\\nSee the run."
                          labels: [reconciliation]
                          fields: {priority: {name: High}}
                    """)
                #expect(status == .succeeded, "\(tasks.mapValues(\.error))")
                let output = try #require(tasks["ticket"]?.output)
                #expect(output["key"] == "OPS-1" && output["created"] == false, "\(output)")
                #expect(output["url"]?.stringValue == "http://127.0.0.1:\(port)/browse/OPS-1")
                #expect(tasks["ticket"]?.attempts == 2)
                #expect(jira.issues.count == 1, "one issue though the first answer was lost")
                let fields = try #require(jira.issues.first?["fields"])
                #expect(fields["summary"] == "Reconcile ACME failed" && fields["issuetype"]?["name"] == "Bug")
                #expect(fields["priority"] == ["name": "High"])
                #expect(fields["description"]?["content"]?.arrayValue?.count == 2)
                let labels = fields["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
                #expect(labels.first == "reconciliation" && labels.last?.hasPrefix("uaef-") == true)

                let refused = try await connectors.run(
                    """
                      - {id: empty, agent: jira.issue.create, retry: {max_attempts: 3, backoff: 10ms}, with: {connector: ops-jira, summary: x, project: NOPE}}
                      - {id: sneaky, agent: jira.issue.create, with: {connector: ops-jira, summary: x, project: 'OPS" OR project = "HR'}}
                      - {id: spaced, agent: jira.issue.create, with: {connector: ops-jira, summary: x, labels: ["two words"]}}
                      - {id: own, agent: jira.issue.create, with: {connector: ops-jira, summary: x, fields: {summary: y}}}
                    """)
                #expect(refused.tasks["empty"]?.attempts == 1)
                #expect(refused.tasks["empty"]?.error?.contains("project: valid project is required") == true)
                #expect(refused.tasks["sneaky"]?.error?.contains("is not a Jira project key") == true)
                #expect(refused.tasks["spaced"]?.error?.contains("without spaces") == true)
                #expect(refused.tasks["own"]?.error?.contains("without description, issuetype, labels") == true)
                #expect(jira.issues.count == 1)
            }
        }
    }

    @Test(
        "a jira connector's subscription opens one issue per failed run, not again when the delivery is sent again; a rate limit is retried after Retry-After; the probe reads the account and project"
    )
    func subscription() async throws {
        let jira = FakeJiraServer()
        try await jira.serving { port in
            try await ConnectorEngine.with(
                secrets: ["jira-token": "fake-api-token"], connectors: Self.connectors(port: port, subscription: true)
            ) { connectors in
                let (status, _) = try await connectors.run(
                    "  - {id: boom, agent: jira.issue.create, with: {connector: nowhere, summary: x}}\n")
                #expect(status == .failed)
                let box = try SecretBox(key: Array(repeating: 5, count: 32))
                let access = ConnectorAccess(policy: .unrestricted)
                let record = try #require(try await connectors.store.connector(named: "ops-jira", tenant: "default"))
                let resolved = try await ResolvedConnector.resolve(
                    record, kind: .jira, resolver: SecretResolver(store: connectors.store, box: box), caller: "test")
                let channel = JiraChannel(
                    jira: try await JiraClient(settings: resolved.settings, policy: .unrestricted), project: "OPS",
                    issueType: "Bug", scrubber: resolved.scrubber)
                let failed = try #require(
                    try await connectors.store.events(in: 0..<1_000, tenant: "default").last {
                        $0.event.type == "run.failed"
                    })
                let delivery = DeliveryRecord(
                    tenant: "default", connector: "ops-jira", id: "msg_" + failed.event.id, eventSeq: failed.seq,
                    eventType: failed.event.type, nextAttemptAt: Date(), createdAt: Date(), updatedAt: Date())
                let logger = Logger(label: "test")
                jira.limitNext(1, retryAfter: 4)
                guard case .failed(429, _, .seconds(4)) = await channel.deliver(delivery, event: failed, logger: logger)
                else {
                    Issue.record("a rate limit was not to be retried after 4 s")
                    return
                }
                guard case .delivered(201) = await channel.deliver(delivery, event: failed, logger: logger),
                    case .delivered(200) = await channel.deliver(delivery, event: failed, logger: logger)
                else {
                    Issue.record("the delivery did not open one issue, then find it")
                    return
                }
                await channel.close()
                #expect(jira.issues.count == 1)
                #expect(
                    jira.issues.first?["fields"]?["summary"]?.stringValue?.hasPrefix("UAEF run.failed: run_") == true)

                // Through the outbox: the same event is delivered once more by the workers, and finds its issue.
                let workers = ConnectorWorkers(
                    store: connectors.store, engine: { _ in connectors.engine },
                    dispatch: TriggerDispatch(execute: { _, _ in }, signalled: { _ in }),
                    triggers: WorkflowTriggerIndex(store: connectors.store), access: access, secrets: box,
                    commits: nil, logger: logger)
                #expect(try await workers.deliverDue(tenant: "default") == 1)
                #expect(jira.issues.count == 1)

                let probe = await ConnectorProbe.probe(
                    record, store: connectors.store, secrets: box, access: access, logger: logger)
                #expect(probe.ok && probe.detail.contains("project OPS: Operations"), "\(probe.detail)")
            }
        }
    }

    @Test("the fake Jira answers the jira Python package as Jira Cloud does: create, fetch, search, errors")
    func fakeAgreesWithJiraPackage() async throws {
        let jira = FakeJiraServer()
        try await jira.serving { port in
            let run = try await PythonScript.run(
                "jira_client_check.py", ["http://127.0.0.1:\(port)", "automation@example.com", "fake-api-token"])
            #expect(run.status == 0, "\(run.output)")
            let seen = try JSONValue(jsonText: run.output.split(separator: "\n").last.map(String.init) ?? "")
            #expect(seen["created"] == ["key": "OPS-1", "summary": "from the client", "labels": ["client-check"]])
            #expect(seen["found"] == ["OPS-1"] && seen["myself"] == "UAEF Automation")
            let errors = try #require(seen["errors"])
            #expect(errors["no_summary"]?["status"] == 400)
            #expect(errors["no_summary"]?["text"]?.stringValue?.contains("You must specify a summary") == true)
            #expect(errors["bad_description"]?["text"]?.stringValue?.contains("Atlassian Document") == true)
            #expect(errors["unknown_project"]?["text"]?.stringValue?.contains("valid project is required") == true)
            #expect(errors["bad_token"]?["status"] == 401)
        }
    }
}
