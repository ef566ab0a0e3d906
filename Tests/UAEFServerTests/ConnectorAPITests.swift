import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFServer
import UAEFStore
import UAEFTestSupport

@Suite("HTTP API: connectors")
struct ConnectorAPITests {
    static let document = """
        connectors:
          - name: erp-events
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}]
        """

    @Test(
        "admins save and remove connectors, readers list them, other roles are refused, problems are 422 with lines, tenants never meet"
    )
    func connectors() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            let saved = try await server.send(.POST, "/v1/connectors", token: admin, body: Self.document)
            #expect(saved.status == 201, "\(saved.body)")
            #expect(saved["connectors"]?.arrayValue?.first?["name"] == "erp-events")
            #expect(saved["unset_secrets"] == ["erp-hook"])

            let operatorToken = try await server.token("acme", [.operator])
            #expect(
                try await server.send(.POST, "/v1/connectors", token: operatorToken, body: Self.document).status == 403)
            #expect(try await server.send(.DELETE, "/v1/connectors/erp-events", token: operatorToken).status == 403)
            let viewer = try await server.token("acme", [.viewer])
            let listed = try await server.send(.GET, "/v1/connectors", token: viewer)
            #expect(listed["connectors"]?.arrayValue?.map { $0["name"] } == ["erp-events"])
            let shown = try await server.send(.GET, "/v1/connectors/erp-events", token: viewer)
            #expect(shown["settings"]?["url"] == "https://hooks.example.com/uaef" && shown["type"] == "webhook")

            let invalid = try await server.send(
                .POST, "/v1/connectors", token: admin,
                body:
                    "connectors:\n  - {name: q, type: sqs, queue_url: https://q.example/1/q, secret_access_key: raw}\n")
            #expect(invalid.status == 422)
            #expect(invalid.body.contains("request body:2: connectors[0].region: required"), "\(invalid.body)")
            #expect(!invalid.body.contains("raw}"))

            let globex = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/connectors/erp-events", token: globex).status == 404)
            #expect(try await server.send(.DELETE, "/v1/connectors/erp-events", token: globex).status == 404)
            #expect(try await server.send(.DELETE, "/v1/connectors/erp-events", token: admin).status == 204)
            #expect(try await server.send(.GET, "/v1/connectors/erp-events", token: admin).status == 404)
        }
    }

    @Test(
        "deliveries over the API: readers list them, operators replay dead ones and resume a subscription (ledger events), others are refused, a connector without a subscription is a 409"
    )
    func deliveries() async throws {
        // The server's outbound policy refuses loopback, so every attempt fails at once, saying why.
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 3, count: 32))).serving { server in
            let admin = try await server.token("acme", [.admin])
            let secret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
            _ = try await server.send(
                .PUT, "/v1/secrets/notify-key", token: admin,
                body: JSONValue.object(["value": .string(secret)]).jsonText)
            let connectors = """
                connectors:
                  - name: notify
                    type: webhook
                    url: http://127.0.0.1:9/hook
                    secrets: [{$secret: notify-key}]
                    subscription: {events: [run.succeeded]}
                    retry_schedule: [1s]
                  - {name: plain, type: webhook, url: "https://hooks.example.com/x", secrets: [{$secret: notify-key}]}
                """
            #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: connectors).status == 201)
            let workflow = "name: ping\ntasks:\n  - {id: a, agent: noop}\n"
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            let run = try await server.send(
                .POST, "/v1/runs", token: admin, body: #"{"workflow": "ping"}"#)
            _ = try await server.waitForRun(try #require(run["run_id"]?.stringValue), token: admin)

            let viewer = try await server.token("acme", [.viewer])
            var dead: [JSONValue] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while dead.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                dead =
                    try await server.send(.GET, "/v1/deliveries?status=dead&connector=notify", token: viewer)[
                        "deliveries"]?.arrayValue ?? []
            }
            let delivery = try #require(dead.first)
            #expect(delivery["event_type"] == "run.succeeded" && delivery["attempts"] == 2)
            #expect(delivery["last_error"]?.stringValue?.contains("refused") == true, "\(delivery)")
            #expect(try await server.send(.GET, "/v1/deliveries?status=lost", token: viewer).status == 400)

            let replay = "/v1/connectors/notify/deliveries/replay"
            #expect(try await server.send(.POST, replay, token: viewer, body: "{}").status == 403)
            let operatorToken = try await server.token("acme", [.operator])
            let none = try await server.send(.POST, replay, token: operatorToken, body: #"{"ids": ["dlv_none"]}"#)
            #expect(none.status == 200 && none["replayed"] == 0)
            #expect(try await server.send(.POST, replay, token: operatorToken, body: #"{"ids": []}"#).status == 422)
            let replayed = try await server.send(.POST, replay, token: operatorToken, body: "")
            #expect(replayed["replayed"] == 1 && replayed["ids"] == [delivery["id"]!], "\(replayed.body)")
            let resumed = try await server.send(
                .POST, "/v1/connectors/notify/subscription/resume", token: operatorToken)
            #expect(resumed.status == 200 && resumed["was_paused"] == .null)
            let plain = try await server.send(.POST, "/v1/connectors/plain/deliveries/replay", token: operatorToken)
            #expect(plain.status == 409 && plain["type"] == "https://uaef.dev/problems/no-subscription")
            #expect(try await server.send(.POST, "/v1/connectors/nope/subscription/resume", token: admin).status == 404)
            let globex = try await server.token("globex", [.admin])
            #expect(try await server.send(.POST, replay, token: globex).status == 404)
            #expect(try await server.send(.GET, "/v1/deliveries", token: globex)["deliveries"] == [])

            let events = try await server.store.events(from: 0, limit: 1_000)
            let audit = try #require(events.first { $0.event.type == "deliveries.replayed" })
            #expect(audit.event.actor == "api:tester" && audit.event.data["count"] == 1)
        }
    }

    /// Sends `webhook.send` to a loopback URL from a server whose outbound policy is `outbound`;
    /// the task's error.
    func loopbackDeliveryError(outbound: OutboundPolicy) async throws -> String {
        var error = ""
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 7, count: 32)), outbound: outbound)
            .serving { server in
                let admin = try await server.token("acme", [.admin])
                let secret = #"{"value": "whsec_\#(String(repeating: "A", count: 44))"}"#
                #expect(try await server.send(.PUT, "/v1/secrets/hook", token: admin, body: secret).status == 200)
                let connectors = """
                    connectors:
                      - {name: internal, type: webhook, url: "http://127.0.0.1:9/hook", secrets: [{$secret: hook}]}
                    """
                #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: connectors).status == 201)
                let workflow = """
                    name: tell
                    tasks:
                      - {id: tell, agent: webhook.send, with: {connector: internal, type: t.x}}
                    """
                #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
                let run = try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow": "tell"}"#)[
                    "run_id"]?.stringValue
                let ended = try await server.waitForRun(try #require(run), token: admin)
                error = ended["tasks"]?["tell"]?["error"]?.stringValue ?? ""
            }
        return error
    }

    @Test(
        "on a server, webhook.send reaches a private address only when the operator allowed it (--allow-network), never by a tenant's connector"
    )
    func privateAddressesNeedTheOperatorsConsent() async throws {
        #expect(try await loopbackDeliveryError(outbound: .publicOnly).contains("refused"))
        // A tenant cannot widen the policy: the connector setting that once did is refused.
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            let widening = """
                connectors:
                  - {name: t, type: webhook, url: "http://127.0.0.1:9/", secrets: [{$secret: h}], allow_private_network: true}
                """
            #expect(try await server.send(.POST, "/v1/connectors", token: admin, body: widening).status == 422)
        }
        // Allowed by the operator, it fails only because nothing listens on port 9.
        let allowed = try await loopbackDeliveryError(outbound: try OutboundPolicy(allowing: ["127.0.0.0/8"]))
        #expect(allowed.contains("failed") && !allowed.contains("refused:"), "\(allowed)")
    }
}
