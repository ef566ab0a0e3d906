import Foundation
import Mustache
import UAEFCore
import UAEFStore

/// What a task's page shows: the task (or fan-out instance) of a run, every attempt at it with
/// the input it was given, its outcome and error, the task's output, and the task's events.
public struct TaskView: Sendable {
    /// One of the task's events.
    public struct Event: Sendable {
        public var seq: Int64
        public var time: String
        public var type: String
        public var actor: String
        /// The event's data as compact JSON.
        public var data: String
        public var ledgerLink: Bool
    }

    public var run: String
    public var workflow: String
    public var key: String
    public var status: String
    public var terminal: Bool
    public var agent: String?
    public var error: String?
    public var reason: String?
    public var output: String?
    /// Every attempt, oldest first.
    public var attempts: [RunView.AttemptRow]
    public var events: [Event]
    /// The links to the other pages of the task's events.
    public var eventPages: EventPages

    /// The most events the page lists.
    public static let eventLimit = 500
    /// The longest input or output shown; longer ones are cut with a note.
    static let valueLimit = 64_000

    /// The view of `task` of `run` with its `attempts` and its `events` from seq `eventsFrom`
    /// (``eventLimit`` and one more, to tell there are more). Attempts' inputs are read from the
    /// `task.started` events of the first page (`firstEvents`, when `events` is a later one), and
    /// shown only with `payloads` (principals who may read the ledger's payloads, as the event
    /// streams send them), else named by their digest.
    public init(
        run: RunRecord, task: TaskRecord, attempts: [AttemptRecord], events: [EventRecord], eventsFrom: Int64 = 0,
        firstEvents: [EventRecord]? = nil, now: Date, ledgerLinks: Bool, payloads: Bool
    ) {
        self.run = run.id.rawValue
        workflow = run.workflowName
        key = task.key
        status = task.status.rawValue
        terminal = run.status.isTerminal
        agent = task.agentID?.rawValue
        error = task.error
        reason = task.reason
        output = task.output.map { Self.cut($0.prettyJSONText) }
        var inputs: [Int: String] = [:]
        for record in firstEvents ?? events where record.event.type == "task.started" {
            guard let number = record.event.data["attempt"]?.numberValue?.intValue else { continue }
            let digest = record.event.data["input_sha256"]?.stringValue ?? "?"
            if let input = record.event.payloads["input"] {
                inputs[number] =
                    payloads
                    ? Self.cut(input.prettyJSONText)
                    : "shown to auditors and admins only; its SHA-256 in the ledger: \(digest)"
            } else if record.event.data["input_sha256"] != nil {
                inputs[number] = "redacted; its SHA-256 stays in the ledger: \(digest)"
            }
        }
        self.attempts = attempts.sorted { $0.number < $1.number }.map { attempt in
            RunView.AttemptRow(
                key: attempt.key, number: attempt.number, agent: attempt.agentID?.rawValue,
                status: attempt.status.rawValue,
                startedAt: Timestamp.format(attempt.startedAt),
                duration: ElapsedText.format((attempt.endedAt ?? now).timeIntervalSince(attempt.startedAt)),
                error: attempt.error, input: inputs[attempt.number])
        }
        self.events = events.prefix(Self.eventLimit).map { record in
            Event(
                seq: record.seq, time: Timestamp.format(record.event.time), type: record.event.type,
                actor: record.event.actor, data: JSONValue.object(record.event.data).jsonText, ledgerLink: ledgerLinks)
        }
        eventPages = EventPages(
            path: Self.path(run: run.id.rawValue, key: task.key), from: eventsFrom, events: events,
            limit: Self.eventLimit)
    }

    /// The page of task `key` of `run`: `/runs/run_…/tasks/each%5B2%5D`.
    static func path(run: String, key: String) -> String {
        "/runs/\(run)/tasks/"
            + (key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? "")
    }

    static func cut(_ text: String) -> String {
        text.count > valueLimit
            ? String(text.prefix(valueLimit)) + "\n… (\(text.count - valueLimit) more characters)" : text
    }
}
