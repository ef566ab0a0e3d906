import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore

/// Why a Slack Web API call did not succeed: Slack's `error` code (`channel_not_found`,
/// `ratelimited`, …), or the HTTP status or transport failure when there was no answer to read.
public struct SlackAPIError: Error, Sendable, CustomStringConvertible {
    /// Slack's error code, or nil when the answer had none.
    public let code: String?
    public let status: Int?
    /// What Slack's `Retry-After` asked for (429).
    public let retryAfter: Duration?
    public let description: String

    /// The codes a later attempt can succeed after: Slack's own transient failures and rate
    /// limits. Every other code (a revoked token, an unknown channel, blocks Slack refuses) needs
    /// a person to change something first.
    static let transientCodes: Set<String> = [
        "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    ]

    /// Whether trying again later can help.
    public var isTransient: Bool {
        code.map(Self.transientCodes.contains) ?? (status.map { $0 == 429 || $0 >= 500 } ?? true)
    }
}

/// Slack's Web API (`https://slack.com/api/METHOD`) for one bot token: JSON bodies with
/// `Authorization: Bearer`, answers `{"ok": true, …}` or `{"ok": false, "error": CODE}` (with
/// HTTP 200), and 429 with `Retry-After` when rate limited. Connections go only to an address
/// the server's outbound policy allows.
public struct SlackClient: Sendable {
    /// Slack's Web API root, unless a connector's `api_url` says otherwise (GovSlack, a test fake).
    public static let defaultAPI = "https://slack.com/api"

    let client: HTTPClient
    let api: URL
    let token: String
    let timeout: TimeAmount

    /// A client for the connector's resolved `settings` (`token`, `api_url`, `timeout`); each
    /// call gives up after `timeout`, when shorter than the connector's.
    public init(settings: [String: JSONValue], policy: OutboundPolicy, timeout limit: Duration? = nil) async throws {
        guard let token = settings["token"]?.stringValue, !token.isEmpty else {
            throw AgentFailure("slack: the connector's token is not set", retryable: false)
        }
        try OutboundHTTP.checkHeader("Authorization", token, by: "slack")
        let text = settings["api_url"]?.stringValue ?? Self.defaultAPI
        guard let api = URL(string: text.hasSuffix("/") ? String(text.dropLast()) : text) else {
            throw AgentFailure("slack: api_url \(text.prefix(100)) is not a URL", retryable: false)
        }
        self.api = api
        self.token = token
        let configured = settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(10)
        timeout = TimeAmount(min(configured, limit ?? configured))
        client = try await OutboundHTTP(policy: policy).client(for: api, method: "POST", by: "slack")
    }

    /// Calls the Web API method `method` (`chat.postMessage`) with `arguments`; Slack's answer
    /// when it is `ok`.
    public func call(_ method: String, _ arguments: [String: JSONValue], logger: Logger) async throws(SlackAPIError)
        -> [String: JSONValue]
    {
        let url = api.appendingPathComponent(method)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: JSONValue.object(arguments).jsonText))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            (response, body) = try await OutboundHTTP.execute(
                request, on: client, to: url, method: "POST", by: "slack \(method)", timeout: timeout, logger: logger)
        } catch {
            throw SlackAPIError(code: nil, status: nil, retryAfter: nil, description: "\(error)")
        }
        let status = Int(response.status.code)
        let answer = (try? JSONValue(jsonText: String(buffer: body)))?.objectValue
        let retryAfter = WebhookAnswer.retryAfter(response.headers)
        if let answer, answer["ok"] == true, (200..<300).contains(status) { return answer }
        let code = answer?["error"]?.stringValue.map { String($0.prefix(100)) }
        throw SlackAPIError(
            code: code ?? (status == 429 ? "ratelimited" : nil), status: status, retryAfter: retryAfter,
            description: "slack \(method): "
                + (code.map { "Slack answered \($0)" } ?? "HTTP \(status) without a Slack answer"))
    }

    /// Posts a message (`chat.postMessage`); its channel and `ts`, which name it for updates.
    public func post(_ message: SlackMessage, to channel: String, logger: Logger) async throws(SlackAPIError)
        -> (channel: String, ts: String)
    {
        var arguments = message.arguments
        arguments["channel"] = .string(channel)
        let answer = try await call("chat.postMessage", arguments, logger: logger)
        return (answer["channel"]?.stringValue ?? channel, answer["ts"]?.stringValue ?? "")
    }

    /// Replaces the message `ts` in `channel` (`chat.update`).
    public func update(_ message: SlackMessage, channel: String, ts: String, logger: Logger) async throws(SlackAPIError)
    {
        var arguments = message.arguments
        arguments["channel"] = .string(channel)
        arguments["ts"] = .string(ts)
        _ = try await call("chat.update", arguments, logger: logger)
    }

    /// Shows `message` to `user` alone in `channel` (`chat.postEphemeral`).
    public func whisper(_ message: SlackMessage, to user: String, in channel: String, logger: Logger)
        async throws(SlackAPIError)
    {
        var arguments = message.arguments
        arguments["channel"] = .string(channel)
        arguments["user"] = .string(user)
        _ = try await call("chat.postEphemeral", arguments, logger: logger)
    }

    public func shutdown() async { try? await client.shutdown() }
}

/// A subscription's events as messages in the connector's `channel`; approval requests and
/// settlements waiting for approval carry Approve and Reject buttons.
struct SlackChannel: DeliveryChannel {
    let client: SlackClient
    let channel: String
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        do throws(SlackAPIError) {
            _ = try await client.post(SlackMessage.event(event), to: channel, logger: logger)
            return .delivered(status: 200)
        } catch {
            let reason = scrubber.scrub(error.description)
            // Slack has no idempotency key: a message it refused was not posted, so a refusal
            // that needs a person (an unknown channel, a revoked token) is dead at once.
            return error.isTransient
                ? .failed(status: error.status, error: reason, retryAfter: error.retryAfter)
                : .abandoned(status: error.status, error: reason)
        }
    }

    func close() async { await client.shutdown() }
}
