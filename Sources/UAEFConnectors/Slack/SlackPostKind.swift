import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `slack.post`: posts a message through a Slack connector's bot, to `channel` or
/// else the connector's `channel`: `text` (Slack `mrkdwn`, as the workflow writes it) and
/// optionally Block Kit `blocks`. The output is `{"channel", "ts"}`, which names the message.
///
/// Slack's `chat.postMessage` takes no idempotency key: an attempt whose answer was lost after
/// Slack posted may post again when retried (at least once).
public struct SlackPostKind: AgentKind {
    let lookup: ConnectorLookup

    public init(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy) {
        lookup = ConnectorLookup(store: store, secrets: secrets, policy: policy)
    }

    public var name: String { "slack.post" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["connector", "text"], optional: ["channel", "blocks"])
    }

    /// Slack's own limits: it cuts text past 40,000 characters and refuses more than 50 blocks.
    static let maximumText = 40_000
    static let maximumBlocks = 50

    /// Whether `value` holds, at any depth, an `action_id` of UAEF's own (`uaef.…`): a workflow's
    /// message may not carry a button that decides an approval when pressed.
    static func holdsDecisionAction(_ value: JSONValue) -> Bool {
        if let members = value.objectValue {
            if members["action_id"]?.stringValue?.lowercased().hasPrefix("uaef.") == true { return true }
            return members.values.contains(where: holdsDecisionAction)
        }
        return value.arrayValue?.contains(where: holdsDecisionAction) ?? false
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let text = request.parameters["text"].map(Template.text), !text.isEmpty else {
            throw AgentFailure("\(name): text must be a non-empty string", retryable: false)
        }
        guard text.count <= Self.maximumText else {
            throw AgentFailure(
                "\(name): text has \(text.count) characters; Slack takes at most \(Self.maximumText)",
                retryable: false)
        }
        let blocks = request.parameters["blocks"]?.arrayValue ?? []
        guard request.parameters["blocks"] == nil || request.parameters["blocks"]?.arrayValue != nil,
            blocks.count <= Self.maximumBlocks, blocks.allSatisfy({ $0.objectValue != nil })
        else {
            throw AgentFailure(
                "\(name): blocks must be a list of at most \(Self.maximumBlocks) Block Kit blocks (objects)",
                retryable: false)
        }
        guard !blocks.contains(where: Self.holdsDecisionAction) else {
            throw AgentFailure(
                "\(name): blocks may not hold action ids starting uaef. (UAEF's approval buttons)", retryable: false)
        }
        let connector = try await lookup.connector(of: request, kind: .slack, caller: name)
        guard let channel = request.parameters["channel"]?.stringValue ?? connector.settings["channel"]?.stringValue
        else {
            throw AgentFailure(
                "\(name): name the channel, or give connector \(connector.record.name) a channel", retryable: false)
        }
        return try await connector.scrubber.scrubbing {
            let client = try await SlackClient(settings: connector.settings, policy: lookup.policy)
            do throws(SlackAPIError) {
                let posted = try await client.post(
                    SlackMessage(text: text, blocks: blocks), to: channel, logger: logger)
                await client.shutdown()
                return ["channel": .string(posted.channel), "ts": .string(posted.ts)]
            } catch {
                await client.shutdown()
                throw AgentFailure(error.description, retryable: error.isTransient)
            }
        }
    }
}
