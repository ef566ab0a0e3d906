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

/// `uaef connectors test`: whether a connector's secrets open and the system it names answers
/// with its credentials accepted, without sending business data.
///
/// - webhook with a `url`: posts a signed Standard Webhooks message of type
///   `uaef.connector.test` (data `{}`), which a receiver may ignore, and expects a 2xx;
///   without a `url` (inbound only): checks that its signing secrets open and are valid.
/// - sqs: `GetQueueAttributes` (the queue exists, the keys may read it).
/// - sap: fetches a CSRF token from the service root (the service answers and accepts the
///   credentials).
/// - oracle: reads one Payables invoice's id (the pod answers, the user may read invoices).
/// - servicebus: reads the entity's description (`GET` on the entity), which proves the
///   signature or token and the entity; a send-only key is refused there (401) though it may send.
/// - slack: `auth.test` (the token is valid; the workspace and bot user it belongs to).
/// - teams: posts a card saying the connector reaches the channel (Workflows webhooks have
///   nothing to read).
/// - jira: reads the account (`myself`) and the project.
public enum ConnectorProbe {
    /// The outcome: whether it worked, and what was seen.
    public struct Result: Sendable {
        public var ok: Bool
        public var detail: String
    }

    public static func probe(
        _ record: ConnectorRecord, store: any WorkflowStore, secrets: SecretBox?, access: ConnectorAccess,
        logger: Logger
    ) async -> Result {
        guard let kind = ConnectorDefinition.Kind(rawValue: record.kind) else {
            return Result(ok: false, detail: "unknown connector type \(record.kind)")
        }
        do {
            let resolved = try await ResolvedConnector.resolve(
                record, kind: kind, resolver: SecretResolver(store: store, box: secrets), caller: "test")
            do {
                let detail = try await probe(kind, resolved.settings, access: access, logger: logger)
                return Result(ok: true, detail: resolved.scrubber.scrub(detail))
            } catch {
                return Result(ok: false, detail: resolved.scrubber.scrub("\(error)"))
            }
        } catch {
            return Result(ok: false, detail: "\(error)")
        }
    }

    private static func probe(
        _ kind: ConnectorDefinition.Kind, _ settings: [String: JSONValue], access: ConnectorAccess, logger: Logger
    ) async throws -> String {
        switch kind {
        case .webhook:
            guard let url = settings["url"]?.stringValue.flatMap(URL.init(string:)) else {
                let standard = (settings["signature"]?.stringValue ?? "standard") == "standard"
                for secret in settings["secrets"]?.arrayValue ?? [] where standard {
                    _ = try WebhookSecret(secret.stringValue ?? "")
                }
                return "inbound only: the signing secrets open"
            }
            let now = Date()
            let post = WebhookPost(
                id: "msg_test_\(Int(now.timeIntervalSince1970))", type: "uaef.connector.test", time: now, data: [:])
            let (response, body) = try await OutboundHTTP(policy: access.policy).send(
                try post.request(to: url, settings: settings, now: now, caller: "test"), to: url, method: "POST",
                by: "test", timeout: TimeAmount(WebhookPost.timeout(settings)), logger: logger)
            let answer = WebhookAnswer(response, body: body)
            guard answer.succeeded else { throw AgentFailure(answer.reason(url: url)) }
            return "POST \(OutboundHTTP.redacted(url)) answered \(answer.status)"
        case .sqs:
            let client = try SQSClient(settings: settings, access: access)
            let attributes = try await client.attributes(logger: logger)
            return
                "queue \(client.queueName): \(attributes["ApproximateNumberOfMessages"] ?? "?") messages visible, \(attributes["ApproximateNumberOfMessagesNotVisible"] ?? "?") in flight"
        case .servicebus:
            let client = try ServiceBusClient(settings: settings, access: access)
            try await client.describe(logger: logger)
            return "entity \(OutboundHTTP.redacted(client.entityURL)) answered"
        case .sap:
            let service = try await SAPService.make(settings: settings, policy: access.policy)
            do {
                _ = try await service.fetchToken(logger: logger)
                await service.shutdown()
            } catch {
                await service.shutdown()
                throw error
            }
            return "service \(OutboundHTTP.redacted(service.root)) answered with a CSRF token"
        case .oracle:
            let fusion = try await OracleFusion.make(settings: settings, policy: access.policy)
            do {
                let value = try await fusion.get(
                    "invoices", query: [("limit", "1"), ("onlyData", "true"), ("fields", "InvoiceId")], logger: logger)
                await fusion.shutdown()
                return
                    "invoices of \(OutboundHTTP.redacted(fusion.resources)) answered (\(value["count"]?.numberValue?.description ?? "no count") on the first page)"
            } catch {
                await fusion.shutdown()
                throw error
            }
        case .slack:
            let client = try await SlackClient(settings: settings, policy: access.policy)
            do {
                let answer = try await client.call("auth.test", [:], logger: logger)
                await client.shutdown()
                let field = { (key: String) in answer[key]?.stringValue ?? "?" }
                return "the token is \(field("user")) (\(field("user_id"))) in \(field("team")) (\(field("team_id")))"
            } catch {
                await client.shutdown()
                throw error
            }
        case .teams:
            let webhook = try await TeamsWebhook(settings: settings, policy: access.policy)
            let outcome = await webhook.post(
                TeamsCard.card([TeamsCard.title("UAEF connector test: this channel is reached")]), logger: logger)
            await webhook.shutdown()
            guard case .delivered(let status) = outcome else { throw AgentFailure("\(outcome)") }
            return "the workflow webhook answered \(status ?? 200)"
        case .jira:
            let jira = try await JiraClient(settings: settings, policy: access.policy)
            do throws(JiraError) {
                let account = try await jira.call(.GET, "myself", logger: logger)
                let key = settings["project"]?.stringValue ?? ""
                let project = try await jira.call(.GET, "project/\(key)", logger: logger)
                await jira.shutdown()
                return
                    "signed in as \(account["displayName"]?.stringValue ?? "?"); project \(key): \(project["name"]?.stringValue ?? "?")"
            } catch {
                await jira.shutdown()
                throw error
            }
        }
    }
}
