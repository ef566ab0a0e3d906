import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// One Standard Webhooks 1.0 message to a webhook connector's URL: the body
/// `{"type", "timestamp", "data"}` and the headers `webhook-id`, `webhook-timestamp` (the
/// attempt's time) and `webhook-signature` (one `v1` signature per signing secret), plus the
/// connector's own `headers`. Shared by `webhook.send` and subscriptions.
struct WebhookPost {
    var id: String
    var type: String
    /// The body's `timestamp`: when the event happened.
    var time: Date
    var data: JSONValue

    var body: [UInt8] {
        Array(
            JSONValue.object(["type": .string(type), "timestamp": .string(Timestamp.format(time)), "data": data])
                .jsonText.utf8)
    }

    /// The signed request to `url` under `settings` (secrets resolved), made at `now`;
    /// `caller` names the kind in errors.
    func request(to url: URL, settings: [String: JSONValue], now: Date, caller: String) throws
        -> HTTPClientRequest
    {
        let secrets = try (settings["secrets"]?.arrayValue ?? []).map { value in
            do {
                return try WebhookSecret(value.stringValue ?? "")
            } catch {
                throw AgentFailure(
                    "\(caller): a signing secret of the connector is refused: \(error)", retryable: false)
            }
        }
        let timestamp = Int64(now.timeIntervalSince1970)
        let body = body
        var outgoing = HTTPClientRequest(url: url.absoluteString)
        outgoing.method = .POST
        for (name, value) in (settings["headers"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            // A secret's value is checked here, once resolved: the definition only saw its name.
            let text = value.stringValue ?? ""
            try OutboundHTTP.checkHeader(name, text, by: caller)
            outgoing.headers.add(name: name, value: text)
        }
        outgoing.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        outgoing.headers.replaceOrAdd(name: StandardWebhooks.idHeader, value: id)
        outgoing.headers.replaceOrAdd(name: StandardWebhooks.timestampHeader, value: "\(timestamp)")
        outgoing.headers.replaceOrAdd(
            name: StandardWebhooks.signatureHeader,
            value: StandardWebhooks.signatureHeader(id: id, timestamp: timestamp, body: body, secrets: secrets))
        outgoing.body = .bytes(ByteBuffer(bytes: body))
        return outgoing
    }

    /// How long one delivery may take when the connector sets no `timeout`.
    static let defaultTimeout = Duration.seconds(30)

    static func timeout(_ settings: [String: JSONValue]) -> Duration {
        settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? defaultTimeout
    }
}

/// A receiver's answer to a webhook message.
struct WebhookAnswer {
    var status: Int
    var body: String
    /// `Retry-After` in seconds, when given.
    var retryAfter: Duration?

    init(_ response: HTTPClientResponse, body: ByteBuffer) {
        status = Int(response.status.code)
        self.body = String(String(buffer: body).prefix(300))
        retryAfter = Self.retryAfter(response.headers)
    }

    /// A response's `Retry-After` in whole seconds (never negative), when it has one.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        headers.first(name: "Retry-After").flatMap { Int($0) }.map { .seconds(max($0, 0)) }
    }

    var succeeded: Bool { (200..<300).contains(status) }

    /// Why the answer is a failure, for errors: the status and what it means for delivery.
    func reason(url: URL) -> String {
        var reason = "answered \(status)"
        if (300..<400).contains(status) { reason += " (a redirect, which webhook delivery does not follow)" }
        if status == 410 { reason += " (Gone: the receiver asks for no more deliveries)" }
        return "POST \(OutboundHTTP.redacted(url)) \(reason): \(body)"
    }
}
