import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFServer
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
