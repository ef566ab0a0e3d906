import Foundation
import UAEFCore

/// A button pressed in a Slack message, as Slack's interactivity request delivers it: a form
/// body `payload=<JSON>` of type `block_actions` (Slack's "block_actions payload" reference) with
/// the `user` who pressed, their `team`, the `container` message and the `actions`.
public struct SlackInteraction: Sendable, Equatable {
    /// One pressed element: its `action_id` and `value`.
    public struct Action: Sendable, Equatable {
        public var id: String
        public var value: String
    }

    /// A request body that is not an interaction payload.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public var type: String
    /// The Slack user id (`U…` or `W…`) of who pressed.
    public var user: String
    public var team: String?
    /// The channel and timestamp of the message the button was in.
    public var channel: String?
    public var messageTS: String?
    /// The message's blocks as Slack sent them.
    public var blocks: [JSONValue]
    public var actions: [Action]

    /// Reads the form body Slack posts.
    public static func parse(form body: [UInt8]) throws(Malformed) -> SlackInteraction {
        guard let text = String(validating: body, as: UTF8.self) else {
            throw Malformed(description: "the body is not UTF-8")
        }
        let decode = { (part: Substring) -> String? in
            part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        let field = text.split(separator: "&").first { $0.hasPrefix("payload=") }
        guard let field, let payload = decode(field.dropFirst("payload=".count)) else {
            throw Malformed(description: "the body has no payload field (application/x-www-form-urlencoded)")
        }
        let value: JSONValue
        do {
            value = try JSONValue(jsonText: payload)
        } catch {
            throw Malformed(description: "the payload is not JSON: \(error)")
        }
        guard let members = value.objectValue, let type = members["type"]?.stringValue,
            let user = members["user"]?["id"]?.stringValue
        else {
            throw Malformed(description: "the payload has no type or user.id")
        }
        let actions = (members["actions"]?.arrayValue ?? []).compactMap { action -> Action? in
            guard let id = action["action_id"]?.stringValue else { return nil }
            return Action(id: id, value: action["value"]?.stringValue ?? "")
        }
        return SlackInteraction(
            type: type, user: user,
            team: members["team"]?["id"]?.stringValue ?? members["user"]?["team_id"]?.stringValue,
            channel: members["container"]?["channel_id"]?.stringValue ?? members["channel"]?["id"]?.stringValue,
            messageTS: members["container"]?["message_ts"]?.stringValue,
            blocks: members["message"]?["blocks"]?.arrayValue ?? [], actions: actions)
    }

    /// The approval decision pressed, if any: the approval id with approve (true) or reject. Slack
    /// sends one action per press; a payload with more is read for its first only.
    public var decisions: [(approval: String, approve: Bool)] {
        guard type == "block_actions" else { return [] }
        return actions.prefix(1).compactMap { action in
            switch action.id {
            case SlackMessage.approveAction: (action.value, true)
            case SlackMessage.rejectAction: (action.value, false)
            default: nil
            }
        }
    }
}

/// Who a Slack user is in UAEF: a connector's `approvers` maps Slack user ids to a subject
/// (acting as `api:SUBJECT`, the same actor as that person's tokens, so maker-checker sees one
/// person) and the approval roles they approve in.
public struct SlackApprover: Sendable, Equatable {
    public var subject: String
    public var approvalRoles: Set<String>

    public init(subject: String, approvalRoles: Set<String>) {
        self.subject = subject
        self.approvalRoles = approvalRoles
    }

    /// The approver the connector's `approvers` setting names for Slack user `user`, if any.
    public static func named(_ user: String, in settings: [String: JSONValue]) -> SlackApprover? {
        guard let entry = settings["approvers"]?[user]?.objectValue, let subject = entry["subject"]?.stringValue
        else { return nil }
        return SlackApprover(
            subject: subject, approvalRoles: Set((entry["approves_as"]?.arrayValue ?? []).compactMap(\.stringValue)))
    }

    /// Whether `key` is a Slack user id: `U` or `W` and 2 to 31 upper-case letters and digits.
    static func isUserID(_ key: String) -> Bool {
        (3...32).contains(key.utf8.count) && (key.hasPrefix("U") || key.hasPrefix("W"))
            && key.utf8.allSatisfy { (65...90).contains($0) || (48...57).contains($0) }
    }

    /// Whether `value` is `{subject: TEXT, approves_as: [ROLE, …]}`: a subject of 1 to 256
    /// characters without control characters, 1 to 16 roles of 1 to 64.
    static func isEntry(_ value: JSONValue) -> Bool {
        guard let members = value.objectValue, Set(members.keys) == ["subject", "approves_as"],
            let subject = members["subject"]?.stringValue, let roles = members["approves_as"]?.arrayValue
        else { return false }
        let plain = { (text: String, most: Int) in
            (1...most).contains(text.count)
                && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }
        return plain(subject, 256) && (1...16).contains(roles.count)
            && roles.allSatisfy { $0.stringValue.map { plain($0, 64) } ?? false }
    }
}
