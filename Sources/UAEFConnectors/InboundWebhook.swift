import Crypto
import Foundation
import UAEFCore

/// A message that arrived at a webhook connector, checked by the connector's signature scheme
/// (`signature`: `standard` by default, `github`, or `hmac-sha256`).
public enum InboundWebhook {
    /// Why a message is refused (answered 401, and counted against its sender's address).
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The longest message id kept as an idempotency key, in bytes.
    public static let maximumIDBytes = 256

    /// Verifies the message against `settings` (the connector's, secrets resolved) and returns
    /// its id, the idempotency key under which it starts something at most once:
    /// `webhook-id` (Standard Webhooks), `X-GitHub-Delivery` (GitHub), or `Idempotency-Key` or
    /// else the body's SHA-256 (plain HMAC); at most ``maximumIDBytes``.
    public static func verify(
        settings: [String: JSONValue], header: (String) -> String?, body: [UInt8], now: Date
    ) throws(Refusal) -> String {
        let id = try verifiedID(settings: settings, header: header, body: body, now: now)
        guard id.utf8.count <= maximumIDBytes else {
            throw Refusal(description: "the message id is longer than \(maximumIDBytes) bytes")
        }
        return id
    }

    private static func verifiedID(
        settings: [String: JSONValue], header: (String) -> String?, body: [UInt8], now: Date
    ) throws(Refusal) -> String {
        let secrets = (settings["secrets"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch settings["signature"]?.stringValue ?? "standard" {
        case "github":
            guard
                secrets.contains(where: {
                    HexBodySignature.isValid(header("X-Hub-Signature-256"), body: body, secret: Array($0.utf8))
                })
            else { throw Refusal(description: "X-Hub-Signature-256 is missing or does not match the body") }
            guard let id = header("X-GitHub-Delivery"), !id.isEmpty else {
                throw Refusal(description: "the X-GitHub-Delivery header is missing")
            }
            return id
        case "hmac-sha256":
            let name = settings["signature_header"]?.stringValue ?? "X-Signature"
            let given = header(name).map { $0.hasPrefix("sha256=") ? $0 : "sha256=" + $0 }
            guard secrets.contains(where: { HexBodySignature.isValid(given, body: body, secret: Array($0.utf8)) })
            else {
                throw Refusal(description: "\(name) is missing or is not the hex HMAC-SHA256 of the body")
            }
            return header("Idempotency-Key") ?? SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        default:
            var keys: [WebhookSecret] = []
            for secret in secrets {
                do {
                    keys.append(try WebhookSecret(secret))
                } catch {
                    throw Refusal(description: "the connector's signing secret is not a whsec_ secret")
                }
            }
            let id = header(StandardWebhooks.idHeader)
            do {
                try StandardWebhooks.verify(
                    id: id, timestamp: header(StandardWebhooks.timestampHeader),
                    signatures: header(StandardWebhooks.signatureHeader), body: body, secrets: keys, now: now)
            } catch {
                throw Refusal(description: error.description)
            }
            return id ?? ""
        }
    }

    /// What a trigger gets of a message: a Standard Webhooks payload's `data`
    /// (`{"type", "timestamp", "data"}`), else the whole JSON body.
    public static func data(of message: JSONValue) -> JSONValue {
        if let members = message.objectValue, members["type"]?.stringValue != nil, let data = members["data"] {
            return data
        }
        return message
    }
}
