import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: tokens, roles and tenants")
struct AuthorizationTests {
    /// Base64url without padding.
    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("expired, early, wrongly signed, other-audience, alg none, unknown-role and malformed tokens are refused")
    func badTokens() async throws {
        try await ServerHarness.start().serving { server in
            let principal = Principal(subject: "mallory", tenant: "acme", roles: [.admin])
            let authority = try #require(server.authority)
            let expired = try await authority.issue(
                for: principal, lifetime: .seconds(60), now: Date().addingTimeInterval(-3600))
            let early = try await authority.issue(
                for: principal, lifetime: .seconds(60), now: Date().addingTimeInterval(3600))
            let otherSecret = try await TokenAuthority(
                .init(secret: Array("another-secret-another-secret-another".utf8), audience: ServerHarness.audience))
            let forged = try await otherSecret.issue(for: principal, lifetime: .seconds(60))
            let otherAudience = try await TokenAuthority(.init(secret: ServerHarness.secret, audience: "billing"))
            let misdirected = try await otherAudience.issue(for: principal, lifetime: .seconds(60))
            let valid = try await authority.issue(for: principal, lifetime: .seconds(60))
            let payload = valid.split(separator: ".")[1]
            let unsigned = Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + payload + "."
            let downgraded =
                Self.base64URL(#"{"alg":"HS384","typ":"JWT"}"#) + "." + payload + "." + valid.split(separator: ".")[2]
            let godRole =
                valid.split(separator: ".")[0] + "."
                + Self.base64URL(
                    #"{"sub":"m","tenant":"acme","roles":["root"],"exp":\#(Int(Date().timeIntervalSince1970) + 60),"aud":"uaef-tests"}"#
                )
                + "." + valid.split(separator: ".")[2]
            let cases: [(name: String, token: String, detail: String)] = [
                ("expired", expired, "expired"),
                ("not yet valid", early, "not valid yet"),
                ("wrong secret", forged, "signature"),
                ("other audience", misdirected, "audience"),
                ("alg none", unsigned, "'none'"),
                ("alg HS384", downgraded, "'HS384'"),
                ("tampered role", godRole, "signature"),
                ("malformed", "not-a-jwt", "compact JWT"),
            ]
            for (name, token, detail) in cases {
                let reply = try await server.send(.GET, "/v1/workflows", token: token)
                #expect(reply.status == 401, "\(name)")
                #expect(reply["detail"]?.stringValue?.contains(detail) == true, "\(name): \(reply.body)")
            }
            #expect(try await server.send(.GET, "/v1/workflows", token: valid).status == 200)
        }
    }

    /// What each role may do, written out here rather than read from ``Role``, so a change to the
    /// role table has to change this test too.
    static let allowed: [Role: Set<String>] = [
        .admin: ["read", "register", "start", "cancel"],
        .operator: ["read", "register", "start", "cancel"],
        .approver: ["read"],
        .auditor: ["read"],
        .viewer: ["read"],
        .agent: [],
    ]

    @Test(
        "each role reaches what it may in its own tenant (else 403), and nothing of another tenant (404, never 403)",
        arguments: Role.allCases)
    func matrix(_ role: Role) async throws {
        try await ServerHarness.start().serving { server in
            let owner = try await server.token("acme", [.admin])
            _ = try await server.send(.POST, "/v1/workflows", token: owner, body: ServerHarness.helloWorkflow)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: owner, body: #"{"workflow":"hello"}"#)["run_id"]?
                    .stringValue)
            _ = try await server.waitForRun(run, token: owner)

            let changed = ServerHarness.helloWorkflow + "\n# \(role)\n"
            let families: [(name: String, method: HTTPMethod, path: String, body: String?)] = [
                ("read", .GET, "/v1/runs/\(run)", nil),
                ("read", .GET, "/v1/workflows/hello", nil),
                ("register", .POST, "/v1/workflows", changed),
                ("start", .POST, "/v1/runs", #"{"workflow":"hello"}"#),
                ("cancel", .POST, "/v1/runs/\(run)/cancel", nil),
            ]
            let own = try await server.token("acme", [role])
            let stranger = try await server.token("globex", [role])
            for family in families {
                let reply = try await server.send(family.method, family.path, token: own, body: family.body)
                if Self.allowed[role]!.contains(family.name) {
                    #expect((200..<300).contains(reply.status), "\(role) \(family.name): \(reply.body)")
                } else {
                    #expect(reply.status == 403, "\(role) \(family.name): \(reply.body)")
                    #expect(reply["type"] == "https://uaef.dev/problems/forbidden")
                }
            }
            // Another tenant's run and workflow do not exist for this principal, whatever its role.
            for family in families where family.path.contains(run) || family.path.hasSuffix("/hello") {
                let reply = try await server.send(family.method, family.path, token: stranger, body: family.body)
                #expect(
                    reply.status == (Self.allowed[role]!.contains(family.name) ? 404 : 403), "\(role) \(family.name)")
            }
            // Nothing of acme's changed through globex.
            #expect(try await server.send(.GET, "/v1/runs/\(run)", token: owner)["status"] == "succeeded")
        }
    }
}
