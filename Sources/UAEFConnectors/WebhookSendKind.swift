import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `webhook.send`: posts one Standard Webhooks 1.0 message to a webhook
/// connector's `url`. Parameters: `connector` (its name), `type` (the event type, e.g.
/// `invoice.approved`) and `data` (any JSON, default `{}`).
///
/// The body is `{"type", "timestamp", "data"}`; `webhook-id` is derived from the run and the task
/// key, the same for every attempt, so a receiver can drop a retried delivery it already has;
/// `webhook-signature` carries one `v1` signature per secret of the connector (two while
/// rotating). A delivery gives up after the connector's `timeout` (30 s by default). A 2xx
/// answer succeeds; a redirect is a failure and is not followed (the
/// specification's rule); 410 Gone fails without retrying; 408, 429 and 5xx fail to be retried
/// by the task's retry policy; other 4xx fail without retrying. The connector's URL is reached
/// under the process's outbound policy (on a server: public addresses and what the operator's
/// `--allow-network` adds; a tenant cannot widen it).
public struct WebhookSendKind: AgentKind {
    let store: any WorkflowStore
    let resolver: SecretResolver
    let outbound: OutboundHTTP

    /// The kind on `store`'s connectors, opening their secrets with `secrets` and reaching
    /// their URLs under `policy`.
    public init(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy) {
        self.store = store
        resolver = SecretResolver(store: store, box: secrets)
        outbound = OutboundHTTP(policy: policy)
    }

    public var name: String { "webhook.send" }
    public var parameters: WorkflowCatalog.ParameterSpec { .init(required: ["connector", "type"], optional: ["data"]) }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let message = try Message(request)
        let connector = try await ResolvedConnector.load(
            message.connector, kind: .webhook, tenant: request.tenant, store: store, resolver: resolver,
            caller: name)
        guard let urlText = connector.record.settings["url"]?.stringValue, let url = URL(string: urlText) else {
            throw AgentFailure(
                "webhook.send: connector \(connector.record.name) has no url to deliver to", retryable: false)
        }
        return try await connector.scrubber.scrubbing {
            try await deliver(
                message, to: url, settings: .object(connector.settings), id: Self.messageID(request), logger: logger)
        }
    }

    /// `msg_` and the task's ``MessageIdentity``: one id per task, whatever the attempt.
    static func messageID(_ request: AttemptRequest) -> String { "msg_" + MessageIdentity.id(of: request) }

    private func deliver(_ message: Message, to url: URL, settings: JSONValue, id: String, logger: Logger)
        async throws -> JSONValue
    {
        let settings = settings.objectValue ?? [:]
        let now = Date()
        let post = WebhookPost(id: id, type: message.type, time: now, data: message.data)
        let (response, body) = try await outbound.send(
            try post.request(to: url, settings: settings, now: now, caller: name), to: url, method: "POST",
            by: name, timeout: TimeAmount(WebhookPost.timeout(settings)), logger: logger)
        let answer = WebhookAnswer(response, body: body)
        guard answer.succeeded else {
            let status = answer.status
            throw AgentFailure(
                "webhook.send: \(answer.reason(url: url))", retryable: status >= 500 || status == 408 || status == 429)
        }
        return [
            "status": .number(Number(answer.status)), "webhook_id": .string(id),
            "timestamp": .number(Number(Int(now.timeIntervalSince1970))),
        ]
    }

    /// A task's `with`, checked.
    struct Message {
        var connector: String
        var type: String
        var data: JSONValue

        init(_ request: AttemptRequest) throws {
            let connector = try ConnectorParameter.name(request.parameters, caller: "webhook.send")
            guard let type = request.parameters["type"]?.stringValue, (1...200).contains(type.utf8.count) else {
                throw AgentFailure(
                    "webhook.send: `type` must be an event type such as invoice.approved", retryable: false)
            }
            self.connector = connector
            self.type = type
            data = request.parameters["data"] ?? .object([:])
        }
    }
}
