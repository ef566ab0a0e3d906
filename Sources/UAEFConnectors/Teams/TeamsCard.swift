import Foundation
import UAEFCore
import UAEFStore

/// Adaptive Cards (version 1.4, which Teams renders) for a Teams channel, and the message that
/// carries one to a Workflows webhook. In the cards UAEF composes for events, text that comes
/// from workflows or events is put in `TextRun`s, which Adaptive Cards never read as Markdown, so
/// it cannot forge a link; only UAEF's own titles are `TextBlock`s (`teams.post` sends a
/// workflow's own Markdown as written).
public enum TeamsCard {
    public static let version = "1.4"
    /// The most characters of one piece of text a card shows.
    static let maximumText = 3_000

    /// The message a Workflows webhook ("Post to a channel when a webhook request is received")
    /// takes: `{"type": "message", "attachments": [{contentType: the Adaptive Card type,
    /// contentUrl: null, content: CARD}]}`.
    public static func message(_ card: JSONValue) -> JSONValue {
        [
            "type": "message",
            "attachments": [
                ["contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": .null, "content": card]
            ],
        ]
    }

    /// A card of `body` elements and `actions`.
    public static func card(_ body: [JSONValue], actions: [JSONValue] = []) -> JSONValue {
        var card: [String: JSONValue] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": .string(version), "body": .array(body),
        ]
        if !actions.isEmpty { card["actions"] = .array(actions) }
        return .object(card)
    }

    /// A title in UAEF's own words (Markdown is not expected in it).
    static func title(_ text: String) -> JSONValue {
        ["type": "TextBlock", "text": .string(text), "weight": "Bolder", "size": "Medium", "wrap": true]
    }

    /// Text from outside UAEF, shown as written.
    static func plain(_ text: String, monospace: Bool = false) -> JSONValue {
        var run: [String: JSONValue] = ["type": "TextRun", "text": .string(String(text.prefix(maximumText)))]
        if monospace { run["fontType"] = "Monospace" }
        return ["type": "RichTextBlock", "inlines": [.object(run)]]
    }

    /// Labelled values, as text runs: `Label: value`, one line each.
    static func facts(_ pairs: [(String, String)]) -> [JSONValue] {
        pairs.map { label, value in
            [
                "type": "RichTextBlock",
                "inlines": [
                    ["type": "TextRun", "text": .string(label + ": "), "weight": "Bolder"],
                    ["type": "TextRun", "text": .string(String(value.prefix(200)))],
                ],
            ]
        }
    }

    static func open(_ title: String, _ url: URL) -> JSONValue {
        ["type": "Action.OpenUrl", "title": .string(title), "url": .string(url.absoluteString)]
    }

    /// `path` under the console at `console`, its segments percent-encoded.
    static func link(_ console: URL?, _ segments: String...) -> URL? {
        guard let console else { return nil }
        var url = console
        for segment in segments { url.append(path: segment) }
        return url
    }

    /// How a subscription shows a ledger event. What waits for approval links to the console's
    /// approvals page and a run's event to the run's page, when the connector has a `console_url`.
    public static func event(_ record: EventRecord, console: URL?) -> JSONValue {
        let event = record.event
        let run = event.subject.hasPrefix("run_") ? event.subject.split(separator: "/").first.map(String.init) : nil
        switch event.type {
        case "approval.requested":
            let approvers = event.data["approvers"]?.numberValue?.intValue ?? 1
            let task = event.subject.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            return card(
                [title("Approval requested"), plain(event.data["message"]?.stringValue ?? "")]
                    + facts([
                        ("Role", event.data["role"]?.stringValue ?? ""), ("Approvers", "\(approvers)"),
                        ("Run", run ?? ""), ("Task", task), ("Approval", event.data["approval"]?.stringValue ?? ""),
                    ]),
                actions: [link(console, "approvals").map { open("Decide in UAEF", $0) }].compactMap { $0 })
        case "settlement.pending_approval":
            return card(
                [title("Settlement waits for approval")]
                    + facts([
                        ("Settlement", event.subject), ("Rule", event.data["rule"]?.stringValue ?? ""),
                        ("By", event.actor),
                    ]),
                actions: [link(console, "approvals").map { open("Decide in UAEF", $0) }].compactMap { $0 })
        default:
            var body =
                [title("UAEF event")]
                + facts([
                    ("Event", event.type), ("Subject", event.subject), ("Actor", event.actor),
                    ("Time", Timestamp.format(event.time)), ("Sequence", "\(record.seq)"),
                ])
            if !event.data.isEmpty { body.append(plain(JSONValue.object(event.data).jsonText, monospace: true)) }
            return card(
                body,
                actions: [run.flatMap { link(console, "runs", $0) }.map { open("Open the run", $0) }].compactMap { $0 })
        }
    }
}
