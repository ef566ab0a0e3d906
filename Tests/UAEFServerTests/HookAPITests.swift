import Crypto
import Foundation
import NIOHTTP1
import Testing
import UAEFConnectors
import UAEFCore
import UAEFSecrets
import UAEFServer
import UAEFTestSupport

@Suite("HTTP API: inbound webhooks start runs and send signals")
struct HookAPITests {
    static let signing = "whsec_" + Data((0..<32).map { UInt8($0 &* 5 &+ 1) }).base64EncodedString()
    static let github = "It's a Secret to Everybody"

    /// A server with the two secrets, the workflow `intake` and two connectors with triggers.
    func withHooks(_ body: (ServerHarness, String) async throws -> Void) async throws {
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 9, count: 32))).serving { server in
            let admin = try await server.token("acme", [.admin])
            for (name, value) in [("orders-hook", Self.signing), ("gh-hook", Self.github)] {
                let set = try await server.send(
                    .PUT, "/v1/secrets/\(name)", token: admin,
                    body: JSONValue.object(["value": .string(value)]).jsonText)
                #expect(set.status == 200)
            }
            let workflow = """
                name: intake
                inputs:
                  message: {}
                tasks:
                  - {id: note, agent: echo, with: {invoice: "${{ inputs.message.invoice }}"}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            let connectors = """
                connectors:
                  - {name: orders, type: webhook, secrets: [{$secret: orders-hook}], trigger: {workflow: intake}}
                  - {name: github, type: webhook, signature: github, secrets: [{$secret: gh-hook}], trigger: {signal: push}}
                """
            #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: connectors).status == 201)
            try await body(server, admin)
        }
    }

    func standardHeaders(id: String, body: String, at time: Date = Date()) throws -> [(String, String)] {
        let timestamp = Int64(time.timeIntervalSince1970)
        let signature = StandardWebhooks.signature(
            id: id, timestamp: timestamp, body: Array(body.utf8), secret: try WebhookSecret(Self.signing))
        return [("webhook-id", id), ("webhook-timestamp", "\(timestamp)"), ("webhook-signature", signature)]
    }

    @Test(
        "a signed Standard Webhooks message starts a run with its data; redelivered it starts nothing new; a bad or stale signature is a 401"
    )
    func startsRuns() async throws {
        try await withHooks { server, admin in
            let body =
                #"{"type": "invoice.received", "timestamp": "2026-12-02T10:00:00Z", "data": {"invoice": "INV-9"}}"#
            let headers = try standardHeaders(id: "msg_1", body: body)
            let first = try await server.send(.POST, "/v1/hooks/acme/orders", body: body, headers: headers)
            #expect(first.status == 202, "\(first.body)")
            let run = try #require(first["run_id"]?.stringValue)
            let ended = try await server.waitForRun(run, token: admin)
            #expect(ended["status"] == "succeeded")
            #expect(ended["tasks"]?["note"]?["output"]?["invoice"] == "INV-9")
            let again = try await server.send(.POST, "/v1/hooks/acme/orders", body: body, headers: headers)
            #expect(again.status == 200 && again["run_id"]?.stringValue == run && again["replayed"] == true)

            let tampered = try await server.send(
                .POST, "/v1/hooks/acme/orders", body: body.replacingOccurrences(of: "INV-9", with: "INV-8"),
                headers: headers)
            #expect(tampered.status == 401 && tampered["type"] == "https://uaef.dev/problems/invalid-signature")
            let stale = try await server.send(
                .POST, "/v1/hooks/acme/orders", body: body,
                headers: try standardHeaders(id: "msg_2", body: body, at: Date().addingTimeInterval(-600)))
            #expect(stale.status == 401 && stale["detail"]?.stringValue?.contains("in the past") == true)
            #expect(try await server.send(.POST, "/v1/hooks/acme/nothing", body: body, headers: headers).status == 404)
            #expect(try await server.send(.POST, "/v1/hooks/globex/orders", body: body, headers: headers).status == 404)
            // A connector whose secret is not set cannot verify: 503, and the sender learns no more.
            let unset =
                "connectors:\n  - {name: broken, type: webhook, secrets: [{$secret: never-set}], trigger: {workflow: intake}}\n"
            #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: unset).status == 201)
            let unavailable = try await server.send(.POST, "/v1/hooks/acme/broken", body: body, headers: headers)
            #expect(unavailable.status == 503 && unavailable.body.contains("never-set") == false)
            let runs = try await server.send(.GET, "/v1/runs", token: admin)["runs"]?.arrayValue ?? []
            #expect(runs.count == 1, "only the first delivery started a run")
        }
    }

    @Test("a GitHub-signed delivery sends a signal once per X-GitHub-Delivery")
    func githubSignal() async throws {
        try await withHooks { server, _ in
            let body = #"{"ref": "refs/heads/main", "after": "abc123"}"#
            let signature = HexBodySignature.signature(body: Array(body.utf8), secret: Array(Self.github.utf8))
            let headers = [
                ("X-Hub-Signature-256", signature), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ]
            let sent = try await server.send(.POST, "/v1/hooks/acme/github", body: body, headers: headers)
            #expect(sent.status == 202, "\(sent.body)")
            let again = try await server.send(.POST, "/v1/hooks/acme/github", body: body, headers: headers)
            #expect(again.status == 200 && again["seq"] == sent["seq"] && again["replayed"] == true)
            let unsigned = try await server.send(
                .POST, "/v1/hooks/acme/github", body: body, headers: [("X-GitHub-Delivery", "other")])
            #expect(unsigned.status == 401)
            // A signed delivery cannot bring an endless idempotency key, nor data nested past the limits.
            let longID = [
                ("X-Hub-Signature-256", signature), ("X-GitHub-Delivery", String(repeating: "a", count: 300)),
            ]
            #expect(try await server.send(.POST, "/v1/hooks/acme/github", body: body, headers: longID).status == 401)
            let deep = "{\"a\": " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"
            let deepHeaders = [
                (
                    "X-Hub-Signature-256",
                    HexBodySignature.signature(body: Array(deep.utf8), secret: Array(Self.github.utf8))
                ),
                ("X-GitHub-Delivery", "deep"),
            ]
            let refused = try await server.send(.POST, "/v1/hooks/acme/github", body: deep, headers: deepHeaders)
            #expect(refused.status == 422, "\(refused.body)")
        }
    }

    @Test(
        "workflows' triggers: a message at a connector starts a run of every workflow whose triggers accept it, once each; an invalid triggers: section is refused naming each field"
    )
    func workflowTriggers() async throws {
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 9, count: 32))).serving { server in
            let admin = try await server.token("acme", [.admin])
            let set = try await server.send(
                .PUT, "/v1/secrets/orders-hook", token: admin,
                body: JSONValue.object(["value": .string(Self.signing)]).jsonText)
            #expect(set.status == 200)
            let connectors = """
                connectors:
                  - {name: intake, type: webhook, secrets: [{$secret: orders-hook}]}
                  - {name: quiet, type: webhook, secrets: [{$secret: orders-hook}]}
                """
            #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: connectors).status == 201)
            let orders = """
                name: orders
                inputs: {order: {}}
                triggers:
                  - {connector: intake, input: order, filter: message.kind == "order"}
                tasks:
                  - {id: note, agent: echo, with: {invoice: "${{ inputs.order.invoice }}"}}
                """
            let audit = """
                name: audit
                inputs: {message: {}}
                triggers:
                  - connector: intake
                tasks:
                  - {id: note, agent: echo, with: {kind: "${{ inputs.message.kind }}"}}
                """
            for workflow in [orders, audit] {
                #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            }
            let order =
                #"{"type": "x", "timestamp": "2026-12-03T10:00:00Z", "data": {"kind": "order", "invoice": "INV-1"}}"#
            let first = try await server.send(
                .POST, "/v1/hooks/acme/intake", body: order, headers: try standardHeaders(id: "m1", body: order))
            #expect(first.status == 202, "\(first.body)")
            let runs = first["runs"]?.arrayValue ?? []
            #expect(Set(runs.compactMap { $0["workflow"]?.stringValue }) == ["orders", "audit"])
            for run in runs {
                let ended = try await server.waitForRun(try #require(run["run_id"]?.stringValue), token: admin)
                #expect(ended["status"] == "succeeded")
                if run["workflow"] == "orders" { #expect(ended["tasks"]?["note"]?["output"]?["invoice"] == "INV-1") }
            }
            let again = try await server.send(
                .POST, "/v1/hooks/acme/intake", body: order, headers: try standardHeaders(id: "m1", body: order))
            #expect(
                again.status == 200
                    && again["runs"]
                        == first["runs"].map { value in
                            .array(
                                (value.arrayValue ?? []).map { run in
                                    var members = run.objectValue ?? [:]
                                    members["replayed"] = true
                                    return .object(members)
                                })
                        }
            )
            let refund = #"{"type": "x", "timestamp": "2026-12-03T10:00:00Z", "data": {"kind": "refund"}}"#
            let second = try await server.send(
                .POST, "/v1/hooks/acme/intake", body: refund, headers: try standardHeaders(id: "m2", body: refund))
            #expect(second.status == 202 && second["workflow"] == "audit" && second["runs"]?.arrayValue?.count == 1)
            // A connector no trigger names takes no messages.
            let quiet = try await server.send(
                .POST, "/v1/hooks/acme/quiet", body: refund, headers: try standardHeaders(id: "m3", body: refund))
            #expect(quiet.status == 404)
            let listed = try await server.send(.GET, "/v1/runs", token: admin)["runs"]?.arrayValue ?? []
            #expect(listed.count == 3)

            let invalid = """
                name: broken
                inputs: {message: {}}
                triggers:
                  - {connector: intake, input: order, filter: inputs.secret == 1}
                  - {connector: "Not A Name"}
                tasks:
                  - {id: note, agent: echo}
                """
            let refused = try await server.send(.POST, "/v1/workflows", token: admin, body: invalid)
            #expect(refused.status == 422, "\(refused.body)")
            for expected in ["triggers[0].input", "triggers[0].filter", "triggers[1].connector"] {
                #expect(refused.body.contains(expected), "\(expected) in \(refused.body)")
            }
        }
    }
}
