import Crypto
import Foundation

/// A webhook signing secret of Standard Webhooks 1.0: `whsec_` followed by the base64 of the key
/// bytes (the prefix is optional, as the reference libraries accept it).
public struct WebhookSecret: Sendable {
    let key: SymmetricKey

    /// The secret written as `whsec_<base64>`; refuses text that is not base64 or holds fewer
    /// than 24 key bytes (the specification asks for 24 to 64).
    public init(_ text: String) throws(WebhookSignatureError) {
        let encoded = text.hasPrefix("whsec_") ? String(text.dropFirst("whsec_".count)) : text
        guard let bytes = Data(base64Encoded: encoded) else {
            throw .invalidSecret("a webhook secret is whsec_ followed by base64; this one is not base64")
        }
        guard (24...64).contains(bytes.count) else {
            throw .invalidSecret("a webhook secret holds 24 to 64 bytes; this one holds \(bytes.count)")
        }
        key = SymmetricKey(data: bytes)
    }

    /// A new random secret of 32 bytes, as `whsec_<base64>`.
    public static func generate() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }
}

/// Why a webhook signature was not made or not accepted.
public enum WebhookSignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidSecret(String)
    case missingHeader(String)
    case invalidTimestamp(String)
    /// The timestamp lies outside the tolerance: a replay, or a clock far off.
    case stale(seconds: Int64)
    case noValidSignature

    public var description: String {
        switch self {
        case .invalidSecret(let reason): reason
        case .missingHeader(let name): "the \(name) header is missing"
        case .invalidTimestamp(let text): "webhook-timestamp \(text.prefix(24)) is not a Unix time in seconds"
        case .stale(let seconds):
            "webhook-timestamp is \(seconds.magnitude) s in the \(seconds < 0 ? "past" : "future"); at most \(StandardWebhooks.tolerance) s are accepted"
        case .noValidSignature: "no signature matches the message and the configured secrets"
        }
    }
}

/// Standard Webhooks 1.0 symmetric signatures: `webhook-signature` carries space-separated
/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret during a rotation.
public enum StandardWebhooks {
    public static let idHeader = "webhook-id"
    public static let timestampHeader = "webhook-timestamp"
    public static let signatureHeader = "webhook-signature"
    /// How far a message's timestamp may lie from the receiver's clock, in seconds.
    public static let tolerance: Int64 = 300

    /// The `v1,…` signature of one message under one secret.
    public static func signature(id: String, timestamp: Int64, body: some DataProtocol, secret: WebhookSecret)
        -> String
    {
        "v1," + Data(mac(id: id, timestamp: timestamp, body: body, secret: secret)).base64EncodedString()
    }

    /// The `webhook-signature` header value: one signature per secret (several while rotating).
    public static func signatureHeader(
        id: String, timestamp: Int64, body: some DataProtocol, secrets: [WebhookSecret]
    ) -> String {
        secrets.map { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }

    /// Checks a received message: its timestamp within ``tolerance`` of `now`, and one `v1`
    /// signature valid under one of `secrets` (compared in constant time).
    public static func verify(
        id: String?, timestamp: String?, signatures: String?, body: some DataProtocol, secrets: [WebhookSecret],
        now: Date
    ) throws(WebhookSignatureError) {
        guard let id, !id.isEmpty else { throw .missingHeader(idHeader) }
        guard let timestampText = timestamp else { throw .missingHeader(timestampHeader) }
        guard let signatures, !signatures.isEmpty else { throw .missingHeader(signatureHeader) }
        guard let seconds = Int64(timestampText) else { throw .invalidTimestamp(timestampText) }
        let (offset, overflow) = seconds.subtractingReportingOverflow(Int64(now.timeIntervalSince1970.rounded(.down)))
        guard !overflow, offset.magnitude <= tolerance.magnitude else {
            throw .stale(seconds: overflow ? Int64.min : offset)
        }
        let message = signedContent(id: id, timestamp: seconds, body: body)
        for candidate in signatures.split(separator: " ") where candidate.hasPrefix("v1,") {
            guard let mac = Data(base64Encoded: String(candidate.dropFirst(3))) else { continue }
            for secret in secrets
            where HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: secret.key) {
                return
            }
        }
        throw .noValidSignature
    }

    private static func signedContent(id: String, timestamp: Int64, body: some DataProtocol) -> Data {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return content
    }

    private static func mac(id: String, timestamp: Int64, body: some DataProtocol, secret: WebhookSecret)
        -> HMAC<SHA256>.MAC
    {
        HMAC<SHA256>.authenticationCode(for: signedContent(id: id, timestamp: timestamp, body: body), using: secret.key)
    }
}

/// GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` with
/// the shared secret as the key; also the shape of plain shared-secret HMAC schemes.
public enum HexBodySignature {
    /// `prefix` followed by the hex HMAC-SHA256 of `body` under `secret`.
    public static func signature(body: some DataProtocol, secret: [UInt8], prefix: String = "sha256=") -> String {
        prefix
            + HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `header` is `prefix` and the hex HMAC of `body` under `secret`, compared in constant time.
    public static func isValid(
        _ header: String?, body: some DataProtocol, secret: [UInt8], prefix: String = "sha256="
    ) -> Bool {
        guard let header, header.hasPrefix(prefix), let mac = bytes(hex: header.dropFirst(prefix.count)) else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: SymmetricKey(data: secret))
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
