import Testing
import UAEFConnectors
import UAEFCore

@Suite("Connector definitions")
struct ConnectorDefinitionTests {
    static let valid = """
        connectors:
          - name: erp-events
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}, {$secret: erp-hook-next}]
            headers: {X-Api-Key: {$secret: erp-key}, X-Source: uaef}
            max_concurrency: 4
          - name: orders-in
            type: sqs
            queue_url: https://sqs.eu-west-1.amazonaws.com/123456789012/orders
            region: eu-west-1
            access_key_id: {$secret: aws-id}
            secret_access_key: {$secret: aws-secret}
            wait_time: 20s
          - name: bus
            type: servicebus
            namespace: contoso
            entity: orders
            sas_key_name: RootManageSharedAccessKey
            sas_key: {$secret: bus-key}
          - name: s4
            type: sap
            url: https://s4.example.com/sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV
            client: "100"
            user: COMM_USER
            password: {$secret: sap-password}
          - name: fusion
            type: oracle
            url: https://example.fa.ocs.oraclecloud.com
            user: INTEGRATION_USER
            password: {$secret: fusion-password}
          - name: finance-slack
            type: slack
            token: {$secret: slack-bot}
            signing_secret: {$secret: slack-signing}
            channel: C0FINANCE1
            approvers: {U0ALICE01: {subject: alice@example.com, approves_as: [finance]}}
            subscription: {events: [approval.requested, settlement.pending_approval]}
          - name: ops-teams
            type: teams
            webhook_url: {$secret: teams-flow}
            console_url: https://uaef.example.com
            subscription: {events: [run.failed]}
          - name: ops-jira
            type: jira
            url: https://acme.atlassian.net
            email: automation@example.com
            api_token: {$secret: jira-token}
            project: OPS
            subscription: {events: [run.failed]}
        """

    @Test(
        "a file of webhook, SQS, Service Bus, SAP, Oracle, Slack, Teams and Jira connectors parses, with its secret references named"
    )
    func parses() throws {
        let definitions = try ConnectorParser.parse(Self.valid, file: "connectors.yaml")
        #expect(
            definitions.map(\.name) == [
                "erp-events", "orders-in", "bus", "s4", "fusion", "finance-slack", "ops-teams", "ops-jira",
            ])
        #expect(definitions.map(\.kind) == [.webhook, .sqs, .servicebus, .sap, .oracle, .slack, .teams, .jira])
        #expect(definitions[7].secretNames == ["jira-token"])
        #expect(definitions[6].secretNames == ["teams-flow"])
        #expect(definitions[5].secretNames == ["slack-bot", "slack-signing"])
        #expect(
            SlackApprover.named("U0ALICE01", in: definitions[5].settings)
                == SlackApprover(subject: "alice@example.com", approvalRoles: ["finance"]))
        #expect(definitions[4].secretNames == ["fusion-password"])
        #expect(definitions[3].secretNames == ["sap-password"])
        #expect(definitions[0].secretNames == ["erp-hook", "erp-hook-next", "erp-key"])
        #expect(definitions[1].settings["region"] == "eu-west-1")
        #expect(definitions[2].secretNames == ["bus-key"])
    }

    @Test(
        "every problem is reported with the file, the line, the field and what is valid",
        arguments: [
            (
                "    type: ftp\n",
                "connectors[0].type: \"ftp\" is not a connector type; valid: webhook, sqs, servicebus, sap, oracle, slack, teams, jira"
            ),
            ("    type: webhook\n    secrets: [hunter2]\n", "connectors[0].secrets:"),
            ("    type: webhook\n", "connectors[0].secrets: required for a webhook connector"),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    url: ftp://x\n",
                "connectors[0].url: \"ftp://x\" is not valid here; expected an http or https URL"
            ),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    url: https://u:p@x.example\n",
                "without credentials"
            ),
            ("    type: webhook\n    secrets: [{$secret: s}]\n    colour: blue\n", "unknown key 'colour'"),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    headers: {\"X-A\": \"a\\r\\nInjected: 1\"}\n",
                "connectors[0].headers:"
            ),
            (
                "    type: sqs\n    queue_url: https://q.example/1/q\n    region: r\n    secret_access_key: plain\n",
                "never the value itself"
            ),
            (
                "    type: sqs\n    queue_url: https://q.example/1/q\n",
                "connectors[0].region: required for a sqs connector"
            ),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    trigger: {workflow: a, signal: b}\n",
                "connectors[0].trigger:"
            ),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    trigger: {workflow: \"a b\"}\n",
                "connectors[0].trigger:"
            ),
            (
                "    type: webhook\n    secrets: [{$secret: s}]\n    signature: hmac-sha256\n    signature_header: \"X Sig\"\n",
                "connectors[0].signature_header: \"X Sig\" is not valid here; expected an HTTP header name"
            ),
            (
                "    type: servicebus\n    namespace: n\n    entity: e\n    sas_key: {$secret: k}\n",
                "sas_key and sas_key_name go together"
            ),
            (
                "    type: sap\n    url: https://s4.example/x\n",
                "give user and password (Basic authentication) or client_certificate"
            ),
            (
                "    type: sap\n    url: https://s4.example/x\n    user: U\n    password: {$secret: p}\n    client_certificate: {$secret: c}\n    client_key: {$secret: k}\n",
                "one of them"
            ),
            ("    type: sap\n    url: https://s4.example/x\n    user: U\n", "user and password go together"),
            (
                "    type: sap\n    url: https://s4.example/x\n    user: U\n    password: {$secret: p}\n    client: 1000\n",
                "connectors[0].client: 1000 is not valid here; expected 3 digits as text"
            ),
            (
                "    type: sap\n    user: U\n    password: {$secret: p}\n",
                "connectors[0].url: required for a sap connector"
            ),
            (
                "    type: sap\n    url: https://s4.example/x\n    user: U\n    password: hunter2\n",
                "never the value itself"
            ),
            (
                "    type: oracle\n    url: https://x.example\n    user: U\n",
                "connectors[0].password: required for a oracle connector"
            ),
            ("    type: slack\n    channel: C1\n", "connectors[0].token: required for a slack connector"),
            (
                "    type: slack\n    token: {$secret: t}\n    subscription: {events: [run.failed]}\n",
                "a slack connector with a subscription needs the channel to post in"
            ),
            (
                "    type: slack\n    token: {$secret: t}\n    approvers: {U0ALICE01: {subject: alice, approves_as: [finance]}}\n",
                "a slack connector with approvers needs the app's signing_secret"
            ),
            (
                "    type: slack\n    token: {$secret: t}\n    signing_secret: {$secret: s}\n    approvers: {alice: {subject: alice, approves_as: [finance]}}\n",
                "connectors[0].approvers.alice: not a Slack user id; expected U or W"
            ),
            (
                "    type: jira\n    url: https://x.atlassian.net\n    email: a@b.c\n    api_token: {$secret: t}\n    project: ops\n",
                "connectors[0].project: \"ops\" is not valid here; expected a Jira project key"
            ),
            (
                "    type: slack\n    token: {$secret: t}\n    signing_secret: {$secret: s}\n    approvers: {U0ALICE01: {subject: alice}}\n",
                "connectors[0].approvers.U0ALICE01: expected {subject: TEXT, approves_as: [ROLE, ...]}"
            ),
        ])
    func problems(_ body: String, _ expected: String) {
        let text = "connectors:\n  - name: c\n" + body
        #expect {
            try ConnectorParser.parse(text, file: "c.yaml")
        } throws: { error in
            let failure = error as? ValidationFailure
            let messages = failure?.issues.map(\.description) ?? []
            let found = messages.contains { $0.contains(expected) && $0.hasPrefix("c.yaml:") }
            if !found { Issue.record("expected \(expected) in \(messages)") }
            return found
        }
    }

    @Test("a credential written in place of a secret reference is refused without being repeated")
    func credentialNotEchoed() {
        let text =
            "connectors:\n  - {name: q, type: sqs, queue_url: https://q.example/1/q, region: r, secret_access_key: wJalrXUtnFEMI}\n"
        #expect {
            try ConnectorParser.parse(text, file: "c.yaml")
        } throws: { error in
            let description = (error as? ValidationFailure)?.description ?? ""
            return description.contains("secret_access_key") && !description.contains("wJalrXUtnFEMI")
        }
        // A Teams Workflows URL carries its signature: written in place, it is refused unrepeated.
        let teams =
            "connectors:\n  - {name: t, type: teams, webhook_url: \"https://prod.logic.azure.com/workflows/1?sig=S3CRETsig\"}\n"
        #expect {
            try ConnectorParser.parse(teams, file: "c.yaml")
        } throws: { error in
            let description = (error as? ValidationFailure)?.description ?? ""
            return description.contains("webhook_url") && !description.contains("S3CRETsig")
        }
    }

    @Test("names are restricted to a documented character set, and two connectors may not share one")
    func names() {
        #expect(ConnectorDefinition.isValidName("erp-events.v2_1"))
        for bad in ["", "Upper", "with space", "a/b", "nul\u{0}", String(repeating: "a", count: 65)] {
            #expect(!ConnectorDefinition.isValidName(bad), "\(bad)")
        }
        let twice = """
            connectors:
              - {name: a, type: webhook, secrets: [{$secret: s}]}
              - {name: a, type: webhook, secrets: [{$secret: s}]}
            """
        #expect(throws: ValidationFailure.self) { try ConnectorParser.parse(twice, file: "c.yaml") }
    }
}
