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

/// Verifies bearer tokens (and issues them for `uaef tokens issue`): HS256 with a shared secret;
/// `exp` and `nbf` always checked, `iss` and `aud` when configured; a header naming any other
/// algorithm (including `none`) is refused before any signature is looked at.
public struct TokenAuthority: Sendable {
    /// How tokens are checked.
    public struct Settings: Sendable {
        /// The HS256 secret (at least 32 bytes).
        public var secret: [UInt8]
        /// When set, tokens must carry this `iss`.
        public var issuer: String?
        /// When set, tokens must list this in `aud`.
        public var audience: String?

        public init(secret: [UInt8], issuer: String? = nil, audience: String? = nil) {
            self.secret = secret
            self.issuer = issuer
            self.audience = audience
        }
    }

    /// Why a secret is refused.
    public struct WeakSecret: Error, CustomStringConvertible {
        public var description: String {
            "the token secret must be at least 32 bytes (e.g. `openssl rand -base64 48 > secret`)"
        }
    }

    let settings: Settings
    private let keys: JWTKeyCollection
    /// The algorithms a token header may name.
    private let algorithms: Set<String> = ["HS256"]

    public init(_ settings: Settings) async throws {
        guard settings.secret.count >= 32 else { throw WeakSecret() }
        self.settings = settings
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: settings.secret), digestAlgorithm: .sha256)
    }

    /// Signs a token for `principal`, valid from now for `lifetime`.
    public func issue(for principal: Principal, lifetime: Duration, now: Date = Date()) async throws -> String {
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

    /// The principal a bearer token stands for; throws a 401 ``Problem`` saying why not.
    public func principal(for token: String) async throws -> Principal {
        let algorithm = try Self.headerAlgorithm(of: token)
        guard algorithms.contains(algorithm) else {
            throw Self.unauthorized(
                "the token is signed with '\(algorithm)'; this server accepts \(algorithms.sorted().joined(separator: ", "))"
            )
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
        guard !claims.tenant.isEmpty else { throw Self.unauthorized("the token's tenant is empty") }
        return Principal(
            subject: claims.sub.value, tenant: claims.tenant, roles: roles, approvalRoles: Set(claims.approvesAs ?? []))
    }

    /// The `alg` of a compact JWS header, read without trusting anything else in the token.
    static func headerAlgorithm(of token: String) throws -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(String(parts[0])),
            let json = try? JSONValue(jsonText: String(decoding: header, as: UTF8.self)),
            let algorithm = json.objectValue?["alg"]?.stringValue
        else { throw unauthorized("the token is not a compact JWT (header.payload.signature)") }
        return algorithm
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
            return switch claim {
            case "ExpirationClaim": "the token has expired"
            case "NotBeforeClaim": "the token is not valid yet"
            default: "the token's claims do not verify: \(error.reason ?? "")"
            }
        case .signatureVerificationFailed: return "the token's signature does not verify"
        default: return "the token is not valid: \(error.reason ?? "malformed")"
        }
    }
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
enum Base64URL {
    static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
