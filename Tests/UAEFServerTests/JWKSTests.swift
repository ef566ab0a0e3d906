import Crypto
import CryptoExtras
import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: tokens signed with public keys from a JWKS")
struct JWKSTests {
    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A compact JWS signed by `sign`, built here from RFC 7515 rather than by the library under test.
    static func token(alg: String, kid: String, claims: JSONValue, sign: (Data) throws -> Data) rethrows -> String {
        let header: JSONValue = ["alg": .string(alg), "kid": .string(kid), "typ": "JWT"]
        let input = base64URL(Data(header.jsonText.utf8)) + "." + base64URL(Data(claims.jsonText.utf8))
        return input + "." + base64URL(try sign(Data(input.utf8)))
    }

    @Test(
        "EdDSA, ES256 and RS256 tokens verify with their JWKS keys; a wrong alg for a kid, an unknown kid and a forged signature do not"
    )
    func publicKeyTokens() async throws {
        let ed = Curve25519.Signing.PrivateKey()
        let ec = P256.Signing.PrivateKey()
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let point = ec.publicKey.x963Representation.dropFirst()
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let jwks: JSONValue = [
            "keys": [
                [
                    "kty": "OKP", "crv": "Ed25519", "x": .string(Self.base64URL(ed.publicKey.rawRepresentation)),
                    "kid": "ed", "alg": "EdDSA",
                ],
                [
                    "kty": "EC", "crv": "P-256", "x": .string(Self.base64URL(point.prefix(32))),
                    "y": .string(Self.base64URL(point.suffix(32))), "kid": "ec", "alg": "ES256",
                ],
                [
                    "kty": "RSA", "n": .string(Self.base64URL(primitives.modulus)),
                    "e": .string(Self.base64URL(primitives.publicExponent)), "kid": "rsa", "alg": "RS256",
                ],
            ]
        ]
        try await ServerHarness.start(jwks: jwks.jsonText).serving { server in
            let claims: JSONValue = [
                "sub": "idp-user", "tenant": "acme", "roles": ["viewer"], "aud": .string(ServerHarness.audience),
                "exp": .number(Number(Int(Date().timeIntervalSince1970) + 300)),
            ]
            let edToken = try Self.token(alg: "EdDSA", kid: "ed", claims: claims) { try ed.signature(for: $0) }
            let ecToken = try Self.token(alg: "ES256", kid: "ec", claims: claims) {
                try ec.signature(for: $0).rawRepresentation
            }
            let rsaToken = try Self.token(alg: "RS256", kid: "rsa", claims: claims) {
                try rsa.signature(for: $0, padding: .insecurePKCS1v1_5).rawRepresentation
            }
            for token in [edToken, ecToken, rsaToken] {
                let reply = try await server.send(.GET, "/v1/workflows", token: token)
                #expect(reply.status == 200, "\(reply.body)")
            }
            let mislabelled = try Self.token(alg: "ES256", kid: "ed", claims: claims) { try ed.signature(for: $0) }
            let unknownKid = try Self.token(alg: "EdDSA", kid: "other", claims: claims) { try ed.signature(for: $0) }
            let otherKey = Curve25519.Signing.PrivateKey()
            let forged = try Self.token(alg: "EdDSA", kid: "ed", claims: claims) { try otherKey.signature(for: $0) }
            // HS256 "signed" with a public key as the secret (algorithm confusion) fails: HS256 uses the server's secret.
            let confused = Self.token(alg: "HS256", kid: "rsa", claims: claims) { input in
                Data(
                    HMAC<SHA256>.authenticationCode(
                        for: input, using: SymmetricKey(data: ed.publicKey.rawRepresentation)))
            }
            let cases = [
                (mislabelled, "signs with EdDSA"), (unknownKid, "kid"), (forged, "signature"), (confused, "signature"),
            ]
            for (token, detail) in cases {
                let reply = try await server.send(.GET, "/v1/workflows", token: token)
                #expect(reply.status == 401)
                #expect(reply["detail"]?.stringValue?.contains(detail) == true, "\(reply.body)")
            }
        }
    }

    @Test("a JWKS key without kid or alg, or with another algorithm, is refused at start")
    func badKeySets() async throws {
        for jwks in [
            #"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}"#, #"{"keys": [{"kid": "a", "alg": "HS512"}]}"#,
            "[]",
        ] {
            await #expect(throws: TokenAuthority.BadKeySet.self) {
                _ = try await TokenAuthority(.init(secret: nil, jwks: jwks))
            }
        }
    }
}
