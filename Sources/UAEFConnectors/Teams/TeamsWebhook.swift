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

/// A Microsoft Teams channel's Workflows webhook (the "Post to a channel when a webhook request is
/// received" flow): an HTTPS URL that carries its own signature (`sig=` in the query), so the
/// connector keeps it as a secret. A card is one JSON POST, answered 202 Accepted.
struct TeamsWebhook: Sendable {
    let client: HTTPClient
    let url: URL
    let timeout: TimeAmount

    /// A client for the connector's resolved `settings` (`webhook_url`, `timeout`), its
    /// connection pinned to an address the outbound policy allows.
    init(settings: [String: JSONValue], policy: OutboundPolicy) async throws {
        guard let text = settings["webhook_url"]?.stringValue, let url = URL(string: text),
            ["http", "https"].contains(url.scheme), url.host?.isEmpty == false
        else {
            throw AgentFailure(
                "teams: the connector's webhook_url secret does not hold an http or https URL", retryable: false)
        }
        self.url = url
        timeout = TimeAmount(settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(30))
        client = try await OutboundHTTP(policy: policy).client(for: url, method: "POST", by: "teams")
    }

    /// Posts `card` to the channel: delivered on 2xx; a refusal a person must fix (400, 401, 403,
    /// 404, 413: a changed or deleted flow, a card it refuses) abandoned; 410 gone; anything else
    /// (429, 5xx, no answer) to be tried again, after `Retry-After` when given. Errors never show
    /// the URL's query, which holds its signature.
    func post(_ card: JSONValue, logger: Logger) async -> DeliveryOutcome {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: TeamsCard.message(card).jsonText))
        do {
            let (response, body) = try await OutboundHTTP.execute(
                request, on: client, to: url, method: "POST", by: "teams", timeout: timeout, logger: logger)
            let answer = WebhookAnswer(response, body: body)
            if answer.succeeded { return .delivered(status: answer.status) }
            let reason = answer.reason(url: url)
            switch answer.status {
            case 410: return .gone(status: 410, error: reason)
            case 400, 401, 403, 404, 413: return .abandoned(status: answer.status, error: reason)
            default: return .failed(status: answer.status, error: reason, retryAfter: answer.retryAfter)
            }
        } catch {
            return .failed(status: nil, error: "\(error)", retryAfter: nil)
        }
    }

    func shutdown() async { try? await client.shutdown() }
}

/// A subscription's events as Adaptive Cards in a Teams channel.
struct TeamsChannel: DeliveryChannel {
    let webhook: TeamsWebhook
    let console: URL?
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        switch await webhook.post(TeamsCard.event(event, console: console), logger: logger) {
        case .failed(let status, let error, let retryAfter):
            .failed(status: status, error: scrubber.scrub(error), retryAfter: retryAfter)
        case .abandoned(let status, let error): .abandoned(status: status, error: scrubber.scrub(error))
        case .gone(let status, let error): .gone(status: status, error: scrubber.scrub(error))
        case let other: other
        }
    }

    func close() async { await webhook.shutdown() }
}

/// The task kind `teams.post`: posts a card with `text` (Teams' Markdown, as the workflow
/// writes it) under an optional `title` to a Teams connector's channel. The output is
/// `{"status"}`, the webhook's answer. At least once: an attempt retried after a lost answer
/// posts again.
public struct TeamsPostKind: AgentKind {
    let lookup: ConnectorLookup

    public init(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy) {
        lookup = ConnectorLookup(store: store, secrets: secrets, policy: policy)
    }

    public var name: String { "teams.post" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["connector", "text"], optional: ["title"])
    }

    /// Teams refuses messages past about 28 KB; a card's text is kept well under.
    static let maximumText = 20_000

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let text = request.parameters["text"].map(Template.text), !text.isEmpty else {
            throw AgentFailure("\(name): text must be a non-empty string", retryable: false)
        }
        let title = request.parameters["title"].map(Template.text)
        guard text.utf8.count + (title?.utf8.count ?? 0) <= Self.maximumText else {
            throw AgentFailure(
                "\(name): title and text take more than \(Self.maximumText) bytes; Teams takes messages up to 28 KB",
                retryable: false)
        }
        let connector = try await lookup.connector(of: request, kind: .teams, caller: name)
        return try await connector.scrubber.scrubbing {
            let webhook = try await TeamsWebhook(settings: connector.settings, policy: lookup.policy)
            let body: [JSONValue] =
                (title.map { [TeamsCard.title($0)] } ?? [])
                + [["type": "TextBlock", "text": .string(text), "wrap": true]]
            let outcome = await webhook.post(TeamsCard.card(body), logger: logger)
            await webhook.shutdown()
            switch outcome {
            case .delivered(let status): return ["status": .number(Number(status ?? 200))]
            case .failed(_, let error, _): throw AgentFailure(error)
            case .abandoned(_, let error), .gone(_, let error): throw AgentFailure(error, retryable: false)
            case .waiting: throw AgentFailure("teams: the webhook asked to wait")
            }
        }
    }
}
