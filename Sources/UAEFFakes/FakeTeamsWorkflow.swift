import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFCore

/// A Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is received",
/// an Azure Logic Apps request trigger) on loopback, for tests. From Microsoft's "Create incoming
/// webhooks with Workflows for Microsoft Teams" and the Logic Apps request trigger reference:
///
/// - **`POST /workflows/{id}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=…&sv=1.0&sig=…`**:
///   the `sig` query parameter is the credential; without it 401 `DirectApiAuthorizationRequired`,
///   with another 401 `DirectApiInvalidAuthorizationSignature`; an unknown workflow 404
///   `WorkflowNotFound`; a body that is not JSON 400 `InvalidRequestContent` (errors as
///   `{"error": {"code", "message"}}`). Otherwise 202 Accepted with no body: the flow runs after
///   the answer, so a message it cannot post is not reported to the sender.
/// - The flow posts `attachments` of type `application/vnd.microsoft.card.adaptive` to the channel;
///   ``cards`` holds what it would post, ``rejected`` the messages it could not (no such
///   attachment).
/// - After ``limitNext(_:retryAfter:)``, that many requests answer 429 with `Retry-After`.
public struct FakeTeamsWorkflow: Sendable {
    public let workflowID: String
    public let signature: String
    let state = FakeState(State())

    struct State {
        var cards: [JSONValue] = []
        var rejected: [JSONValue] = []
        var limited = 0
        var retryAfter = 1
    }

    public init(
        workflowID: String = "6f1e2d3c4b5a69788796a5b4c3d2e1f0", signature: String = "fake-signature-0123456789"
    ) {
        self.workflowID = workflowID
        self.signature = signature
    }

    /// The webhook URL on `port`, as Teams shows it when the flow is created.
    public func url(port: Int, signature: String? = nil) -> String {
        "http://127.0.0.1:\(port)/workflows/\(workflowID)/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=\(signature ?? self.signature)"
    }

    /// The Adaptive Cards posted to the channel, in order.
    public var cards: [JSONValue] { state.withLock { $0.cards } }
    /// The messages the flow took but could not post.
    public var rejected: [JSONValue] { state.withLock { $0.rejected } }

    /// Makes the next `count` requests answer 429 with `Retry-After: retryAfter`.
    public func limitNext(_ count: Int, retryAfter: Int = 1) {
        state.withLock {
            $0.limited = count
            $0.retryAfter = retryAfter
        }
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        FakeHTTP.json(status, ["error": ["code": .string(code), "message": .string(message)]])
    }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        router.post("workflows/:id/triggers/manual/paths/invoke") { request, context in
            if let wait = state.withLock({ state -> Int? in
                guard state.limited > 0 else { return nil }
                state.limited -= 1
                return state.retryAfter
            }) {
                var response = Self.error(429, "WorkflowRequestsThrottled", "The request was throttled.")
                response.headers[.retryAfter] = "\(wait)"
                return response
            }
            let query = FakeHTTP.queryItems(request.uri.query ?? "")
            guard let given = query["sig"] else {
                return Self.error(
                    401, "DirectApiAuthorizationRequired",
                    "The request must be authenticated only by Shared Access scheme.")
            }
            guard given == signature else {
                return Self.error(
                    401, "DirectApiInvalidAuthorizationSignature",
                    "The provided authorization signature is not valid.")
            }
            guard context.parameters.get("id") == workflowID else {
                return Self.error(404, "WorkflowNotFound", "The workflow could not be found.")
            }
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            guard let message = try? JSONValue(jsonText: text) else {
                return Self.error(
                    400, "InvalidRequestContent", "The request content is not valid and could not be deserialized.")
            }
            let cards = (message["attachments"]?.arrayValue ?? []).compactMap { attachment -> JSONValue? in
                attachment["contentType"] == "application/vnd.microsoft.card.adaptive" ? attachment["content"] : nil
            }
            state.withLock { state in
                if cards.isEmpty { state.rejected.append(message) } else { state.cards += cards }
            }
            return Response(status: .accepted)
        }
        var logger = Logger(label: "uaef-fake-teams")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }
}
