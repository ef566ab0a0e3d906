import Crypto
import Foundation
import UAEFCore

/// A console session: the value of its `HttpOnly` cookie and the CSRF token its forms carry.
///
/// The cookie holds the access token the user signed in with (so every request is authorised
/// exactly as an API request with that token, and the session ends when the token expires), or,
/// on a server without token authentication, `local.` and a random value. The CSRF token is an
/// HMAC keyed with a digest of the cookie's value: a page of another site can neither read the
/// cookie nor compute the token, and a server with several instances needs no shared state.
public struct ConsoleSession: Sendable, Hashable {
    /// The cookie's name.
    public static let cookieName = "uaef_session"
    /// The form field (and `X-CSRF-Token` header) a state-changing request carries the token in.
    public static let csrfField = "csrf"

    /// The cookie's value.
    public let value: String

    public init(value: String) { self.value = value }

    /// A session for a server without token authentication (loopback only).
    public static func local() -> ConsoleSession {
        let random = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return ConsoleSession(value: "local." + Base64URL.encode(Array(random)))
    }

    /// True for a session made by ``local()``.
    public var isLocal: Bool { value.hasPrefix("local.") }

    /// The CSRF token of this session.
    public var csrfToken: String {
        let key = SymmetricKey(data: SHA256.hash(data: Data(value.utf8)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("uaef console csrf v1".utf8), using: key)
        return Base64URL.encode(Array(mac))
    }

    /// True when `token` is this session's CSRF token (compared in constant time).
    public func accepts(csrf token: String?) -> Bool {
        guard let token else { return false }
        let expected = Array(csrfToken.utf8)
        let given = Array(token.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The session named by a request's `Cookie` header, or nil.
    public static func from(cookieHeader: String?) -> ConsoleSession? {
        guard let cookieHeader else { return nil }
        for pair in cookieHeader.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            return value.isEmpty ? nil : ConsoleSession(value: value)
        }
        return nil
    }

    /// The `Set-Cookie` value that starts this session for `maxAge` seconds: `HttpOnly`,
    /// `SameSite=Strict`, and `Secure` unless the server listens on loopback only.
    public func setCookie(maxAge: Int, secure: Bool) -> String {
        "\(Self.cookieName)=\(value); Path=/; Max-Age=\(max(0, maxAge)); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that ends a session.
    public static func clearCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// True for a value a cookie may carry as it is: a JWT, an agent key or a local session
    /// (RFC 6265 cookie-octets, and at most 8 KiB).
    public static func isCookieSafe(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 8192
            && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x2C && $0 != 0x3B && $0 != 0x5C }
    }
}
