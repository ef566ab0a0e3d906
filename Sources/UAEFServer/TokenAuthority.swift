import Foundation
import Hummingbird
import JWTKit
import UAEFCore

/// The claims of a UAEF access token: `sub`, `tenant`, `roles`, `exp`, and optionally
/// `approves_as`, `nbf`, `iat`, `iss` and `aud`.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var tenant: String
    var roles: [String]
    var approvesAs: [String]?
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?

    enum CodingKeys: String, CodingKey {
        case sub, tenant, roles, exp, nbf, iat, iss, aud
        case approvesAs = "approves_as"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}

/// Verifies bearer tokens (and issues them for `uaef tokens issue`): HS256 with a shared secret,
/// and EdDSA, RS256 or ES256 with the public keys of a JWKS (each key with its `kid` and `alg`);
/// `exp` and `nbf` always checked, `iss` and `aud` when configured. The header's `alg` must be one
/// the configured keys use, and for a JWKS key exactly that key's `alg`, before any signature is
/// looked at: `none` and algorithm confusion are refused.
public struct TokenAuthority: Sendable {
    /// How tokens are checked.
    public struct Settings: Sendable {
        /// The HS256 secret (at least 32 bytes), or nil.
        public var secret: [UInt8]?
        /// A JSON Web Key Set of public keys (RFC 7517) whose tokens are accepted, or nil.
        public var jwks: String?
        /// When set, tokens must carry this `iss`.
        public var issuer: String?
        /// When set, tokens must list this in `aud`.
        public var audience: String?
        /// The longest a token may still be valid when it is presented (`exp` less now): default
        /// 24 hours. A token minted to last for years is refused, not trusted for years.
        public var maximumLifetime: Duration

        public init(
            secret: [UInt8]?, jwks: String? = nil, issuer: String? = nil, audience: String? = nil,
            maximumLifetime: Duration = .seconds(24 * 3600)
        ) {
            self.secret = secret
            self.jwks = jwks
            self.issuer = issuer
            self.audience = audience
            self.maximumLifetime = maximumLifetime
        }
    }

    /// Why a secret is refused.
    public struct WeakSecret: Error, CustomStringConvertible {
        public var description: String {
            "the token secret must be at least 32 bytes (e.g. `openssl rand -base64 48 > secret`)"
        }
    }

    /// Why a JWKS is refused.
    public struct BadKeySet: Error, CustomStringConvertible {
        public var description: String
    }

    let settings: Settings
    private let keys: JWTKeyCollection
    /// Tokens already verified, with their principal and expiry.
    private let verified = BoundedCache<(principal: Principal, expiry: Date)>(capacity: 10_000)
    /// The algorithms a token header may name.
    private let algorithms: Set<String>
    /// The `alg` of each JWKS key, by `kid`.
    private let keyAlgorithms: [String: String]

    public init(_ settings: Settings) async throws {
        self.settings = settings
        keys = JWTKeyCollection()
        var algorithms: Set<String> = []
        if let secret = settings.secret {
            guard secret.count >= 32 else { throw WeakSecret() }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            algorithms.insert("HS256")
        }
        var keyAlgorithms: [String: String] = [:]
        if let jwks = settings.jwks {
            keyAlgorithms = try Self.keyAlgorithms(of: jwks)
            do {
                try await keys.add(jwksJSON: jwks)
            } catch {
                throw BadKeySet(description: "the JWKS could not be read as keys: \(error)")
            }
            algorithms.formUnion(keyAlgorithms.values)
        }
        guard !algorithms.isEmpty else { throw BadKeySet(description: "give a token secret, a JWKS, or both") }
        self.algorithms = algorithms
        self.keyAlgorithms = keyAlgorithms
    }

    /// The accepted public-key algorithms.
    static let publicKeyAlgorithms: Set<String> = ["EdDSA", "RS256", "ES256"]

    /// Each key's `alg` by `kid`, refusing keys without them or with other algorithms.
    static func keyAlgorithms(of jwks: String) throws -> [String: String] {
        guard let keys = (try? JSONValue(jsonText: jwks))?.objectValue?["keys"]?.arrayValue else {
            throw BadKeySet(description: "a JWKS is a JSON object {\"keys\": [...]}")
        }
        var algorithms: [String: String] = [:]
        for (index, key) in keys.enumerated() {
            guard let kid = key.objectValue?["kid"]?.stringValue, let alg = key.objectValue?["alg"]?.stringValue else {
                throw BadKeySet(description: "keys[\(index)]: every key needs a kid and an alg")
            }
            guard publicKeyAlgorithms.contains(alg) else {
                throw BadKeySet(
                    description:
                        "keys[\(index)] (\(kid)): alg \(alg) is not one of \(publicKeyAlgorithms.sorted().joined(separator: ", "))"
                )
            }
            algorithms[kid] = alg
        }
        return algorithms
    }

    /// Signs a token for `principal`, valid from now for `lifetime`.
    public func issue(for principal: Principal, lifetime: Duration, now: Date = Date()) async throws -> String {
        guard settings.secret != nil else { throw WeakSecret() }
        let claims = AccessClaims(
            sub: SubjectClaim(value: principal.subject), tenant: principal.tenant,
            roles: principal.roles.map(\.rawValue).sorted(),
            approvesAs: principal.approvalRoles.isEmpty ? nil : principal.approvalRoles.sorted(),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(lifetime.components.seconds))),
            nbf: NotBeforeClaim(value: now.addingTimeInterval(-1)), iat: IssuedAtClaim(value: now),
            iss: settings.issuer.map { IssuerClaim(value: $0) }, aud: settings.audience.map { AudienceClaim(value: $0) }
        )
        return try await keys.sign(claims)
    }

    /// The principal a bearer token stands for; throws a 401 ``Problem`` saying why not. A token
    /// verified once is remembered until it expires (a client sends the same token many times).
    public func principal(for token: String) async throws -> Principal {
        try await verified(token).principal
    }

    /// The principal a bearer token stands for and when the token expires; throws a 401
    /// ``Problem`` saying why not.
    public func verified(_ token: String) async throws -> (principal: Principal, expiry: Date) {
        let now = Date()
        if let known = verified.value(for: token) {
            if known.expiry > now { return known }
            verified.forget(token)
        }
        let (principal, expiry) = try await verify(token)
        verified.keep((principal, expiry), for: token)
        return (principal, expiry)
    }

    private func verify(_ token: String) async throws -> (Principal, Date) {
        let (algorithm, kid) = try Self.header(of: token)
        guard algorithms.contains(algorithm) else {
            throw Self.unauthorized(
                "the token is signed with '\(algorithm)'; this server accepts \(algorithms.sorted().joined(separator: ", "))"
            )
        }
        if algorithm != "HS256" {
            guard let kid, let expected = keyAlgorithms[kid] else {
                throw Self.unauthorized("a \(algorithm) token must name one of the server's keys in its kid")
            }
            guard expected == algorithm else {
                throw Self.unauthorized("key \(kid) signs with \(expected), not \(algorithm)")
            }
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch let error as JWTError {
            throw Self.unauthorized(Self.reason(error))
        } catch is DecodingError {
            throw Self.unauthorized("the token lacks claims: a UAEF token carries sub, tenant, roles and exp")
        } catch {
            throw Self.unauthorized("the token is not a valid JWT")
        }
        if let issuer = settings.issuer, claims.iss?.value != issuer {
            throw Self.unauthorized("the token's issuer is not '\(issuer)'")
        }
        if let audience = settings.audience, !(claims.aud?.value.contains(audience) ?? false) {
            throw Self.unauthorized("the token is not meant for audience '\(audience)'")
        }
        var roles: Set<Role> = []
        for name in claims.roles {
            guard let role = Role(rawValue: name) else {
                let valid = Role.allCases.map(\.rawValue).joined(separator: ", ")
                throw Self.unauthorized("the token names an unknown role '\(name)'; roles are \(valid)")
            }
            roles.insert(role)
        }
        guard TenantName.isValid(claims.tenant) else {
            throw Self.unauthorized("the token's tenant must be \(TenantName.pattern)")
        }
        guard Principal.isValidSubject(claims.sub.value) else {
            throw Self.unauthorized("the token's sub must be 1 to 256 printable characters")
        }
        let lifetime = claims.exp.value.timeIntervalSinceNow
        let limit = settings.maximumLifetime
        guard lifetime <= Double(limit.components.seconds) else {
            throw Self.unauthorized(
                "the token is valid for longer than this server accepts (at most \(DurationText.format(limit)) from now)"
            )
        }
        let principal = Principal(
            subject: claims.sub.value, tenant: claims.tenant, roles: roles, approvalRoles: Set(claims.approvesAs ?? []))
        return (principal, claims.exp.value)
    }

    /// The `alg` and `kid` of a compact JWS header, read without trusting anything else in the
    /// token. A header with `crit` is refused: this server implements no JWS extension (RFC 7515
    /// §4.1.11 requires refusing what it does not understand).
    static func header(of token: String) throws -> (algorithm: String, kid: String?) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(String(parts[0])),
            let json = try? JSONValue(jsonText: String(decoding: header, as: UTF8.self)),
            let algorithm = json.objectValue?["alg"]?.stringValue
        else { throw unauthorized("the token is not a compact JWT (header.payload.signature)") }
        guard json.objectValue?["crit"] == nil else {
            throw unauthorized(
                "the token's header lists critical extensions (crit) that this server does not implement")
        }
        return (algorithm, json.objectValue?["kid"]?.stringValue)
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(
            .unauthorized, "unauthorized", detail,
            headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    }

    private static func reason(_ error: JWTError) -> String {
        switch error.errorType {
        case .claimVerificationFailure:
            let claim = error.failedClaim.map { String(describing: type(of: $0)) } ?? ""
            // The library's own wording (decoder details) stays out of the answer.
            return switch claim {
            case "ExpirationClaim": "the token has expired"
            case "NotBeforeClaim": "the token is not valid yet"
            default: "the token's claims do not verify"
            }
        case .signatureVerificationFailed: return "the token's signature does not verify"
        default: return "the token is not a valid JWT"
        }
    }
}
