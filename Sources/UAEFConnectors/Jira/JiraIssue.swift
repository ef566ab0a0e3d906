import Foundation
import UAEFCore
import UAEFStore

/// Jira issue fields as UAEF writes them: descriptions in the Atlassian Document Format (ADF:
/// `{"type": "doc", "version": 1, "content": [blocks]}`, text nodes never empty), the label that
/// makes a creation happen once, and the issue a subscribed event opens.
public enum JiraIssue {
    /// Jira's limit on a summary.
    static let maximumSummary = 255
    /// The most characters of one text node UAEF writes.
    static let maximumText = 30_000

    /// An ADF document of `paragraphs` (each plain text) and an optional JSON code block.
    public static func document(_ paragraphs: [String], code: String? = nil) -> JSONValue {
        var content: [JSONValue] = paragraphs.filter { !$0.isEmpty }.map { text in
            ["type": "paragraph", "content": [["type": "text", "text": .string(String(text.prefix(maximumText)))]]]
        }
        if let code, !code.isEmpty {
            content.append([
                "type": "codeBlock", "attrs": ["language": "json"],
                "content": [["type": "text", "text": .string(String(code.prefix(maximumText)))]],
            ])
        }
        return ["type": "doc", "version": 1, "content": .array(content)]
    }

    /// Whether `key` is a Jira project key as Jira's default rule makes them: a capital letter,
    /// then 1 to 9 capitals, digits or `_`.
    public static func isProjectKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        return (2...10).contains(bytes.count) && (65...90).contains(bytes[0])
            && bytes.dropFirst().allSatisfy { (65...90).contains($0) || (48...57).contains($0) || $0 == 95 }
    }

    /// The label that marks what `identity` (a task's or a delivery's) created: `uaef-` and it.
    static func label(_ identity: String) -> String { "uaef-" + identity }

    /// `summary` cut to Jira's 255 characters, on one line.
    static func summary(_ text: String) -> String {
        String(text.replacingOccurrences(of: "\n", with: " ").prefix(maximumSummary))
    }

    /// The fields of the issue a subscribed event opens in `project` as `issueType`.
    static func fields(for record: EventRecord, project: String, issueType: String) -> [String: JSONValue] {
        let event = record.event
        return [
            "project": ["key": .string(project)], "issuetype": ["name": .string(issueType)],
            "summary": .string(summary("UAEF \(event.type): \(event.subject)")),
            "description": document(
                [
                    "\(event.type) on \(event.subject) by \(event.actor) at \(Timestamp.format(event.time)) (tenant \(event.tenant), event \(record.seq), \(event.id))."
                ], code: event.data.isEmpty ? nil : JSONValue.object(event.data).jsonText),
            "labels": ["uaef"],
        ]
    }
}
