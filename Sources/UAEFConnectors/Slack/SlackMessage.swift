import Foundation
import UAEFCore
import UAEFStore

/// A Slack message: `text` (what notifications and screen readers show) and Block Kit `blocks`.
public struct SlackMessage: Sendable, Equatable {
    public var text: String
    public var blocks: [JSONValue]

    public init(text: String, blocks: [JSONValue] = []) {
        self.text = text
        self.blocks = blocks
    }

    /// The arguments `chat.postMessage`, `chat.update` and `chat.postEphemeral` share.
    var arguments: [String: JSONValue] {
        blocks.isEmpty ? ["text": .string(text)] : ["text": .string(text), "blocks": .array(blocks)]
    }

    /// Block Kit's limits: 50 blocks a message, 3,000 characters of a section's text.
    static let maximumBlocks = 50
    static let maximumText = 3_000

    /// The `action_id`s of the decision buttons, and the `block_id` of the block holding them.
    public static let approveAction = "uaef.approve"
    public static let rejectAction = "uaef.reject"
    public static let decisionBlock = "uaef.decision"

    /// `text` made inert for Slack's `mrkdwn`: `&`, `<` and `>` escaped as Slack asks, so text
    /// from a workflow cannot mention `<!channel>` or forge a link.
    public static func escaped(_ text: some StringProtocol) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func section(_ mrkdwn: String) -> JSONValue {
        ["type": "section", "text": ["type": "mrkdwn", "text": .string(String(mrkdwn.prefix(maximumText)))]]
    }

    static func context(_ mrkdwn: String) -> JSONValue {
        ["type": "context", "elements": [["type": "mrkdwn", "text": .string(String(mrkdwn.prefix(maximumText)))]]]
    }

    static func button(_ label: String, action: String, style: String, value: String) -> JSONValue {
        [
            "type": "button", "text": ["type": "plain_text", "text": .string(label)], "style": .string(style),
            "action_id": .string(action), "value": .string(value),
        ]
    }

    /// The Approve and Reject buttons for approval `id`.
    static func decisionButtons(_ id: String) -> JSONValue {
        [
            "type": "actions", "block_id": .string(decisionBlock),
            "elements": [
                button("Approve", action: approveAction, style: "primary", value: id),
                button("Reject", action: rejectAction, style: "danger", value: id),
            ],
        ]
    }

    /// How a subscription shows a ledger event: what waits for approval with its decision
    /// buttons (`approval.requested`, `settlement.pending_approval`), any other event as its
    /// type, subject, actor and data.
    public static func event(_ record: EventRecord) -> SlackMessage {
        let event = record.event
        let code = { (text: String) in "`" + escaped(text.replacingOccurrences(of: "`", with: "'")) + "`" }
        switch event.type {
        case "approval.requested":
            let id = event.data["approval"]?.stringValue ?? ""
            let message = event.data["message"]?.stringValue ?? ""
            let approvers = event.data["approvers"]?.numberValue?.intValue ?? 1
            let (run, task) = event.subject.split(separator: "/", maxSplits: 1).map(String.init).pair
            return SlackMessage(
                text: "Approval requested: \(escaped(message.prefix(maximumText)))",
                blocks: [
                    section("*Approval requested*\n" + escaped(message)),
                    context(
                        "Role \(code(event.data["role"]?.stringValue ?? "")) · \(approvers) approver\(approvers == 1 ? "" : "s") · run \(code(run)) task \(code(task)) · \(code(id))"
                    ),
                    decisionButtons(id),
                ])
        case "settlement.pending_approval":
            return SlackMessage(
                text: "Settlement \(escaped(event.subject)) waits for approval",
                blocks: [
                    section("*Settlement waits for approval*\n" + code(event.subject)),
                    context("Rule \(code(event.data["rule"]?.stringValue ?? "")) · by \(code(event.actor))"),
                    decisionButtons(event.subject),
                ])
        default:
            var blocks = [
                section("*\(escaped(event.type))* \(code(event.subject))"),
                context("by \(code(event.actor)) · \(Timestamp.format(event.time)) · event \(record.seq)"),
            ]
            if !event.data.isEmpty {
                let data = JSONValue.object(event.data).jsonText.prefix(maximumText - 8)
                blocks.append(section("```" + escaped(data) + "```"))
            }
            return SlackMessage(text: "\(escaped(event.type)): \(escaped(event.subject))", blocks: blocks)
        }
    }

    /// The message a decision button was pressed in, once the approval is decided: its blocks
    /// without the buttons, `line` added.
    public static func decided(_ original: [JSONValue], line: String) -> SlackMessage {
        var blocks = original.filter { $0["block_id"]?.stringValue != decisionBlock }
        blocks = Array(blocks.prefix(maximumBlocks - 1))
        blocks.append(context(line))
        return SlackMessage(text: line, blocks: blocks)
    }
}

extension Array where Element == String {
    /// The first two elements, empty where missing.
    fileprivate var pair: (String, String) { (first ?? "", count > 1 ? self[1] : "") }
}
