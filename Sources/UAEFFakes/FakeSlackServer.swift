import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFCore

/// The Slack Web API methods UAEF calls, on loopback, for tests. What it implements, from Slack's
/// Web API reference (docs.slack.dev/reference/methods) and checked with the official Python SDK
/// (`slack_sdk`) as the client (Tests/Support/slack_sdk_check.py):
///
/// - **`POST /api/{method}`** with the token as `Authorization: Bearer`, arguments as JSON
///   (`application/json`) or a form (`application/x-www-form-urlencoded`). Answers are HTTP 200
///   with `{"ok": true, …}` or `{"ok": false, "error": CODE}`: `not_authed` without a token,
///   `invalid_auth` with another, `unknown_method`.
/// - **`chat.postMessage`**: `channel` must be one of the workspace's (`channel_not_found`), with
///   `text` or `blocks` (`no_text`), at most 50 blocks (`invalid_blocks`); answers `channel`, `ts`
///   (`"1764900000.000100"`, unique) and the `message` (`type`, `user`, `bot_id`, `text`, `ts`,
///   `blocks`).
/// - **`chat.update`**: `channel` and the `ts` of a message posted here (`message_not_found`);
///   answers `channel`, `ts`, `text` and the `message`.
/// - **`chat.postEphemeral`**: `channel`, `user`, `text` or `blocks`; answers `message_ts`.
/// - **`auth.test`**: the bot's `url`, `team`, `user`, `team_id`, `user_id`, `bot_id`.
/// - **Rate limits**: after ``limitNext(_:retryAfter:)``, that many calls answer 429 with
///   `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
///
/// ``interaction(pressing:in:user:team:signingSecret:at:)`` builds what Slack posts to an app's
/// Request URL when a button is pressed: the `block_actions` payload as a form, signed `v0`.
public struct FakeSlackServer: Sendable {
    public static let teamID = "T0FAKE0001"
    public static let botUserID = "U0FAKEBOT1"

    public let token: String
    public let channels: Set<String>
    let state = FakeState(State())

    struct State {
        var messages: [JSONValue] = []
        var ephemeral: [JSONValue] = []
        var sequence = 100
        var rateLimited = 0
        var retryAfter = 1
    }

    public init(token: String = "xoxb-fake-token", channels: Set<String> = ["C0FAKE0001"]) {
        self.token = token
        self.channels = channels
    }

    /// Every message posted, as it stands now (updated in place), in posting order, each with its
    /// `channel`.
    public var messages: [JSONValue] { state.withLock { $0.messages } }

    /// Every ephemeral message, with its `channel` and `user`.
    public var ephemeralMessages: [JSONValue] { state.withLock { $0.ephemeral } }

    /// Makes the next `count` calls answer 429 with `Retry-After: retryAfter`.
    public func limitNext(_ count: Int, retryAfter: Int = 1) {
        state.withLock {
            $0.rateLimited = count
            $0.retryAfter = retryAfter
        }
    }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        router.post("api/:method") { request, context in
            let method = context.parameters.get("method") ?? ""
            let limited: Int? = state.withLock { state in
                guard state.rateLimited > 0 else { return nil }
                state.rateLimited -= 1
                return state.retryAfter
            }
            if let limited {
                var response = FakeHTTP.json(429, ["ok": false, "error": "ratelimited"])
                response.headers[.retryAfter] = "\(limited)"
                return response
            }
            guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") else {
                return Self.error("not_authed")
            }
            guard authorization.dropFirst("Bearer ".count) == token else { return Self.error("invalid_auth") }
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let type = request.headers[.contentType] ?? ""
            let arguments: [String: JSONValue]
            if type.hasPrefix("application/json") {
                guard let object = (try? JSONValue(jsonText: body))?.objectValue else {
                    return Self.error("invalid_json")
                }
                arguments = object
            } else {
                arguments = FakeHTTP.queryItems(body).mapValues { text in
                    // A form carries blocks as JSON text.
                    (try? JSONValue(jsonText: text)).flatMap { $0.arrayValue.map(JSONValue.array) } ?? .string(text)
                }
            }
            return call(method, arguments)
        }
        var logger = Logger(label: "uaef-fake-slack")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    static func error(_ code: String) -> Response { FakeHTTP.json(200, ["ok": false, "error": .string(code)]) }

    private func call(_ method: String, _ arguments: [String: JSONValue]) -> Response {
        let channel = arguments["channel"]?.stringValue ?? ""
        let blocks = arguments["blocks"]?.arrayValue
        let text = arguments["text"]?.stringValue
        switch method {
        case "auth.test":
            return FakeHTTP.json(
                200,
                [
                    "ok": true, "url": "https://fake-workspace.slack.com/", "team": "Fake Workspace",
                    "user": "uaef", "team_id": .string(Self.teamID), "user_id": .string(Self.botUserID),
                    "bot_id": "B0FAKEBOT1",
                ])
        case "chat.postMessage", "chat.update", "chat.postEphemeral":
            guard channels.contains(channel) else { return Self.error("channel_not_found") }
            guard text?.isEmpty == false || blocks?.isEmpty == false else { return Self.error("no_text") }
            guard (blocks?.count ?? 0) <= 50 else { return Self.error("invalid_blocks") }
        default:
            return Self.error("unknown_method")
        }
        return state.withLock { state -> Response in
            switch method {
            case "chat.postMessage":
                state.sequence += 1
                let ts = "1764900000.\(String(format: "%06d", state.sequence))"
                let message = Self.message(ts: ts, text: text, blocks: blocks)
                var stored = message
                stored["channel"] = .string(channel)
                state.messages.append(.object(stored))
                return FakeHTTP.json(
                    200, ["ok": true, "channel": .string(channel), "ts": .string(ts), "message": .object(message)])
            case "chat.update":
                let ts = arguments["ts"]?.stringValue ?? ""
                guard
                    let index = state.messages.firstIndex(where: {
                        $0["ts"]?.stringValue == ts && $0["channel"]?.stringValue == channel
                    })
                else { return Self.error("message_not_found") }
                var message = Self.message(ts: ts, text: text, blocks: blocks)
                message["edited"] = ["user": .string(Self.botUserID), "ts": .string(ts)]
                var stored = message
                stored["channel"] = .string(channel)
                state.messages[index] = .object(stored)
                return FakeHTTP.json(
                    200,
                    [
                        "ok": true, "channel": .string(channel), "ts": .string(ts), "text": .string(text ?? ""),
                        "message": .object(message),
                    ])
            default:
                state.sequence += 1
                let ts = "1764900000.\(String(format: "%06d", state.sequence))"
                var stored = Self.message(ts: ts, text: text, blocks: blocks)
                stored["channel"] = .string(channel)
                stored["user"] = arguments["user"] ?? .null
                state.ephemeral.append(.object(stored))
                return FakeHTTP.json(200, ["ok": true, "message_ts": .string(ts)])
            }
        }
    }

    static func message(ts: String, text: String?, blocks: [JSONValue]?) -> [String: JSONValue] {
        var message: [String: JSONValue] = [
            "type": "message", "user": .string(botUserID), "bot_id": "B0FAKEBOT1", "text": .string(text ?? ""),
            "ts": .string(ts), "team": .string(teamID),
        ]
        if let blocks { message["blocks"] = .array(blocks) }
        return message
    }

    /// What Slack posts to an app's Request URL when `user` presses the button `action` (an
    /// `action_id`) of `message` (as ``messages`` holds it): a `block_actions` payload (Slack's
    /// reference example's fields) as the form field `payload`, with `X-Slack-Request-Timestamp`
    /// and its `v0` `X-Slack-Signature` under `signingSecret`.
    public static func interaction(
        pressing action: String, in message: JSONValue, user: String, team: String = teamID, signingSecret: String,
        at time: Date = Date()
    ) -> (body: String, headers: [(String, String)]) {
        let button =
            message["blocks"]?.arrayValue?.lazy.compactMap { $0["elements"]?.arrayValue }.joined()
            .first { $0["action_id"]?.stringValue == action } ?? .null
        let channel = message["channel"] ?? .null
        let payload: JSONValue = [
            "type": "block_actions",
            "user": ["id": .string(user), "username": "fake.user", "name": "fake.user", "team_id": .string(team)],
            "api_app_id": "A0FAKEAPP1", "token": "deprecated-verification-token",
            "container": [
                "type": "message", "message_ts": message["ts"] ?? .null, "channel_id": channel, "is_ephemeral": false,
            ],
            "trigger_id": "1234567890.1234567890.abcdef", "team": ["id": .string(team), "domain": "fake-workspace"],
            "enterprise": .null, "is_enterprise_install": false, "channel": ["id": channel, "name": "approvals"],
            "message": message, "response_url": "https://hooks.slack.com/actions/T0FAKE0001/1/fake",
            "actions": [
                [
                    "action_id": .string(action), "block_id": button["block_id"] ?? "actions",
                    "text": button["text"] ?? .null, "value": button["value"] ?? .null, "type": "button",
                    "action_ts": "1764900001.000001",
                ]
            ],
        ]
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = "payload=" + (payload.jsonText.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        let timestamp = "\(Int64(time.timeIntervalSince1970))"
        // Slack's v0 scheme, written here apart from UAEF's verifier: hex HMAC-SHA256 of
        // "v0:TIMESTAMP:BODY" under the signing secret.
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("v0:\(timestamp):\(body)".utf8), using: SymmetricKey(data: Array(signingSecret.utf8)))
        let signature = "v0=" + mac.map { String(format: "%02x", $0) }.joined()
        return (
            body,
            [
                ("Content-Type", "application/x-www-form-urlencoded"), ("X-Slack-Request-Timestamp", timestamp),
                ("X-Slack-Signature", signature),
            ]
        )
    }
}
