import Foundation
import UAEFCore

/// What `uaef monitor` last read from the server.
struct MonitorSnapshot: Sendable {
    /// A run in the list, with how many of its tasks have ended.
    struct Run: Sendable, Equatable {
        var id: String
        var workflow: String
        var status: String
        var createdAt: Date?
        var endedAt: Date?
        var error: String?
        var finishedTasks: Int
        var tasks: Int
    }

    /// A task of the selected run.
    struct Task: Sendable, Equatable {
        var key: String
        var status: String
        var attempts: Int
        var agent: String?
        var error: String?
    }

    /// An agent and its load.
    struct Agent: Sendable, Equatable {
        var name: String
        var status: String
        var running: Int
        var maxConcurrency: Int
        var p95Milliseconds: Int?
        var failures: Int
    }

    var runs: [Run] = []
    var selectedTasks: [Task] = []
    var agents: [Agent] = []
    var failures: [Run] = []
    var time = Date()
    /// Why the last read failed, when it did (the screen keeps what it had).
    var problem: String?
}

extension MonitorSnapshot.Run {
    /// A run as `GET /v1/runs?include=task_counts` lists it (zero tasks when its summary has no
    /// counts); nil without an id.
    init?(summary: JSONValue) {
        guard let id = summary["run_id"]?.stringValue else { return nil }
        self.init(
            id: id, workflow: summary["workflow"]?.stringValue ?? "", status: summary["status"]?.stringValue ?? "",
            createdAt: summary["created_at"]?.stringValue.flatMap(Timestamp.parse),
            endedAt: summary["ended_at"]?.stringValue.flatMap(Timestamp.parse), error: summary["error"]?.stringValue,
            finishedTasks: summary["task_counts"]?["ended"]?.numberValue?.intValue ?? 0,
            tasks: summary["task_counts"]?["total"]?.numberValue?.intValue ?? 0)
    }
}

/// The monitor's state between screens: the filter, the selected run and a cancellation waiting
/// for its confirmation; keys change it (a pure state machine; the loop acts on what it returns).
struct MonitorState: Sendable, Equatable {
    /// A key the monitor understands.
    enum Key: Sendable, Equatable {
        case up, down, filter, cancel, yes, no, quit, other
    }

    /// What the loop must do after a key.
    enum Action: Sendable, Equatable {
        case none, refresh
        case cancel(String)
        case quit
    }

    /// The statuses the filter cycles through; nil shows every run.
    static let filters: [String?] = [nil, "running", "pending", "failed", "succeeded", "cancelled"]

    var filter: String?
    var selected: String?
    /// The run waiting for `y` to be cancelled.
    var confirming: String?
    /// A line for the status bar (what the last action did).
    var message: String?

    /// Keeps the selection on a run that is still listed (else the first).
    mutating func follow(_ snapshot: MonitorSnapshot) {
        if selected == nil || !snapshot.runs.contains(where: { $0.id == selected }) {
            selected = snapshot.runs.first?.id
        }
    }

    mutating func handle(_ key: Key, in snapshot: MonitorSnapshot) -> Action {
        if let run = confirming {
            confirming = nil
            if key == .yes {
                message = "cancelling \(run)…"
                return .cancel(run)
            }
            message = "not cancelled"
            return .none
        }
        let index = snapshot.runs.firstIndex { $0.id == selected }
        switch key {
        case .up:
            if let index, index > 0 { selected = snapshot.runs[index - 1].id }
            return .refresh
        case .down:
            if let index, index + 1 < snapshot.runs.count { selected = snapshot.runs[index + 1].id }
            return .refresh
        case .filter:
            let position = Self.filters.firstIndex(of: filter) ?? 0
            filter = Self.filters[(position + 1) % Self.filters.count]
            selected = nil
            message = "showing \(filter ?? "all") runs"
            return .refresh
        case .cancel:
            guard let run = snapshot.runs.first(where: { $0.id == selected }) else { return .none }
            guard !["succeeded", "failed", "cancelled"].contains(run.status) else {
                message = "\(run.id) has ended (\(run.status))"
                return .none
            }
            confirming = run.id
            message = "cancel \(run.id)? press y to confirm, any other key to keep it"
            return .none
        case .quit:
            return .quit
        case .yes, .no, .other:
            return .none
        }
    }
}

/// The monitor's screen as lines of text: a pure function of what was read and the state, so
/// the terminal shows it with colours and a pipe gets the same lines plain.
struct MonitorScreen {
    var snapshot: MonitorSnapshot
    var state: MonitorState
    var server: String
    /// ANSI colours for states (a terminal), or none (a pipe).
    var colours: Bool

    func lines(width: Int, height: Int) -> [String] {
        var lines: [String] = []
        let clock = Timestamp.format(snapshot.time).dropFirst(11).prefix(8)
        lines.append(fit("UAEF monitor · \(server) · \(state.filter ?? "all") runs · \(clock)", width))
        if let problem = snapshot.problem { lines.append(fit("! \(problem)", width)) }
        lines.append(fit(row(" ", "RUN", 30, "WORKFLOW", 18, "STATUS", 11, "PROGRESS", 20, "AGE"), width))
        let detailHeight = min(snapshot.selectedTasks.count + 2, max(4, height / 3))
        let agentsHeight = min(snapshot.agents.count + 1, 6)
        let failuresHeight = min(snapshot.failures.count + 1, 4)
        let runRows = max(3, height - lines.count - detailHeight - agentsHeight - failuresHeight - 2)
        for run in snapshot.runs.prefix(runRows) {
            let marker = run.id == state.selected ? ">" : " "
            lines.append(
                fit(
                    row(
                        marker, run.id, 30, run.workflow, 18, paint(run.status), 11,
                        progress(run.finishedTasks, run.tasks), 20, age(run)), width))
        }
        if snapshot.runs.isEmpty { lines.append("  (no runs)") }
        if let selected = snapshot.runs.first(where: { $0.id == state.selected }) {
            lines.append(fit("── \(selected.id) · \(selected.workflow) · \(selected.status) " + rule(width), width))
            if let error = selected.error { lines.append(fit("  error: \(error)", width)) }
            lines.append(fit(row(" ", "TASK", 24, "STATUS", 16, "TRIES", 6, "AGENT", 30, "ERROR"), width))
            for task in snapshot.selectedTasks.prefix(max(1, detailHeight - 2)) {
                lines.append(
                    fit(
                        row(
                            " ", task.key, 24, paint(task.status), 16, String(task.attempts), 6, task.agent ?? "", 30,
                            task.error ?? ""), width))
            }
        }
        if !snapshot.agents.isEmpty {
            lines.append(fit("── agents " + rule(width), width))
            for agent in snapshot.agents.prefix(agentsHeight - 1) {
                let p95 = agent.p95Milliseconds.map { "p95 \($0) ms" } ?? ""
                lines.append(
                    fit(
                        row(
                            " ", agent.name, 24, agent.status, 12, progress(agent.running, agent.maxConcurrency), 20,
                            "\(agent.failures) failed", 12, p95), width))
            }
        }
        if !snapshot.failures.isEmpty {
            lines.append(fit("── recent failures " + rule(width), width))
            for run in snapshot.failures.prefix(failuresHeight - 1) {
                lines.append(fit("  \(run.id) \(run.workflow): \(run.error ?? "failed")", width))
            }
        }
        while lines.count < height - 1 { lines.append("") }
        let keys = "↑/↓ select · f filter · c cancel run · q quit"
        lines.append(fit(state.message.map { "\($0) · \(keys)" } ?? keys, width))
        return Array(lines.prefix(height))
    }

    /// The same screen without colours or key help, for a pipe or a log.
    var plain: String {
        var text = "\(Timestamp.format(snapshot.time)) \(server)"
        if let problem = snapshot.problem { text += " ! \(problem)" }
        for run in snapshot.runs {
            text += "\n\(run.id) \(run.workflow) \(run.status) \(run.finishedTasks)/\(run.tasks)"
            if let error = run.error { text += " error: \(error)" }
        }
        return text + "\n"
    }

    private func row(_ marker: String, _ cells: Any...) -> String {
        var text = marker + " "
        var index = 0
        while index < cells.count {
            let cell = "\(cells[index])"
            if index + 1 < cells.count, let width = cells[index + 1] as? Int {
                text += pad(cell, width) + " "
                index += 2
            } else {
                text += cell
                index += 1
            }
        }
        return text
    }

    /// `[######----] 6/10`
    private func progress(_ done: Int, _ total: Int) -> String {
        let slots = 10
        let filled = total > 0 ? min(slots, done * slots / total) : 0
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: slots - filled)
            + "] \(done)/\(total)"
    }

    private func age(_ run: MonitorSnapshot.Run) -> String {
        guard let created = run.createdAt else { return "" }
        let seconds = max(0, (run.endedAt ?? snapshot.time).timeIntervalSince(created))
        return seconds < 60 ? "\(Int(seconds))s" : seconds < 3600 ? "\(Int(seconds) / 60)m" : "\(Int(seconds) / 3600)h"
    }

    private func rule(_ width: Int) -> String { String(repeating: "─", count: max(0, width)) }

    /// The state as a word, coloured on a terminal (the word is always there, colour only helps).
    private func paint(_ status: String) -> String {
        guard colours else { return status }
        let code =
            switch status {
            case "succeeded", "active": "32"
            case "failed", "timed_out": "31"
            case "running": "36"
            case "retry_scheduled", "waiting": "33"
            default: "0"
            }
        return "\u{1B}[\(code)m\(status)\u{1B}[0m"
    }

    /// `text` padded or cut to `width` visible characters (colour codes do not count).
    private func pad(_ text: String, _ width: Int) -> String {
        let visible = visibleCount(text)
        if visible <= width { return text + String(repeating: " ", count: width - visible) }
        return String(text.prefix(max(0, width - 1))) + "…"
    }

    /// `line` cut to `width` visible characters.
    private func fit(_ line: String, _ width: Int) -> String {
        guard visibleCount(line) > width else { return line }
        var result = ""
        var visible = 0
        var inEscape = false
        for character in line {
            if character == "\u{1B}" { inEscape = true }
            if !inEscape {
                guard visible < width else { break }
                visible += 1
            }
            result.append(character)
            if inEscape && character == "m" { inEscape = false }
        }
        return colours ? result + "\u{1B}[0m" : result
    }

    private func visibleCount(_ text: String) -> Int {
        var count = 0
        var inEscape = false
        for character in text {
            if character == "\u{1B}" {
                inEscape = true
            } else if inEscape {
                if character == "m" { inEscape = false }
            } else {
                count += 1
            }
        }
        return count
    }
}
