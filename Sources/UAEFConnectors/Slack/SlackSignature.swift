import Foundation

/// Slack's request signing, version `v0` ("Verifying requests from Slack",
/// docs.slack.dev/authentication/verifying-requests-from-slack): `X-Slack-Signature` is `v0=` and
/// the hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` under the app's signing
/// secret, and the timestamp lies within five minutes of the receiver's clock.
public enum SlackSignature {
    public static let signatureHeader = "X-Slack-Signature"
    public static let timestampHeader = "X-Slack-Request-Timestamp"
    /// How far a request's timestamp may lie from the receiver's clock, either way.
    public static let tolerance: TimeInterval = 300

    /// The `X-Slack-Signature` value of `body` sent at `timestamp` (Unix seconds, as text).
    public static func signature(timestamp: String, body: [UInt8], secret: String) -> String {
        HexBodySignature.signature(body: base(timestamp, body), secret: Array(secret.utf8), prefix: "v0=")
    }

    /// Accepts a request whose timestamp is within ``tolerance`` of `now` and whose signature
    /// matches one of `secrets`, compared in constant time.
    public static func verify(
        signature: String?, timestamp: String?, body: [UInt8], secrets: [String], now: Date
    ) throws(InboundWebhook.Refusal) {
        guard let timestamp, !timestamp.isEmpty else {
            throw InboundWebhook.Refusal(description: "the \(timestampHeader) header is missing")
        }
        guard timestamp.utf8.count <= 12, let seconds = Int64(timestamp) else {
            throw InboundWebhook.Refusal(description: "\(timestampHeader) is not a Unix time in seconds")
        }
        let age = now.timeIntervalSince1970 - TimeInterval(seconds)
        guard abs(age) <= tolerance else {
            throw InboundWebhook.Refusal(
                description:
                    "\(timestampHeader) is \(Int(abs(age))) s \(age > 0 ? "in the past" : "in the future"); at most \(Int(tolerance)) s is accepted"
            )
        }
        let signed = base(timestamp, body)
        guard
            secrets.contains(where: {
                HexBodySignature.isValid(signature, body: signed, secret: Array($0.utf8), prefix: "v0=")
            })
        else {
            throw InboundWebhook.Refusal(description: "\(signatureHeader) is missing or does not match the request")
        }
    }

    private static func base(_ timestamp: String, _ body: [UInt8]) -> [UInt8] { Array("v0:\(timestamp):".utf8) + body }
}
