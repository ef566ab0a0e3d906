import Foundation
import Mustache
import UAEFCore
import UAEFStore

/// What the runs page shows: the filters as given, a page of runs, and the links to the pages
/// around it.
public struct RunsView: Sendable {
    /// One run in the list.
    public struct Row: Sendable {
        public var id: String
        public var workflow: String
        public var version: Int
        public var status: String
        public var createdAt: String
        public var duration: String
        /// How many of its tasks have ended, of how many: `3 of 5`.
        public var tasks: String
        public var error: String?
    }

    /// A choice of the status filter.
    public struct StatusOption: Sendable {
        public var value: String
        public var selected: Bool
    }

    /// A workflow the start form offers.
    public struct WorkflowOption: Sendable {
        public var name: String
        public var version: Int

        public init(name: String, version: Int) {
            self.name = name
            self.version = version
        }
    }

    public var statuses: [StatusOption]
    public var workflow: String
    public var since: String
    public var filtered: Bool
    public var canStart: Bool
    public var csrf: String
    public var workflows: [WorkflowOption]
    public var caption: String
    public var runs: [Row]
    public var firstPage: String?
    public var nextPage: String?

    /// The filters of the runs page, read from its query.
    public struct Filters: Sendable, Hashable {
        public var status: RunStatus?
        public var workflow: String?
        /// Only runs created at or after this time.
        public var since: Date?
        /// The id the page starts below (the `cursor` of the page before).
        public var cursor: RunID?

        public init(status: RunStatus? = nil, workflow: String? = nil, since: Date? = nil, cursor: RunID? = nil) {
            self.status = status
            self.workflow = workflow
            self.since = since
            self.cursor = cursor
        }

        /// The store's filter for these filters.
        public var runFilter: RunFilter { RunFilter(status: status, workflow: workflow, before: cursor) }

        /// The query string of these filters with another cursor (nil: the first page).
        public func query(cursor: RunID?) -> String {
            var items: [URLQueryItem] = []
            if let status { items.append(URLQueryItem(name: "status", value: status.rawValue)) }
            if let workflow { items.append(URLQueryItem(name: "workflow", value: workflow)) }
            if let since { items.append(URLQueryItem(name: "since", value: Self.localTime(since))) }
            if let cursor { items.append(URLQueryItem(name: "cursor", value: cursor.rawValue)) }
            var components = URLComponents()
            components.queryItems = items
            return items.isEmpty ? "/runs" : "/runs?" + (components.percentEncodedQuery ?? "")
        }

        /// A time as an `<input type="datetime-local">` value (UTC, to the minute).
        static func localTime(_ date: Date) -> String { String(Timestamp.format(date).prefix(16)) }

        /// Reads a `datetime-local` value (`2026-12-03T10:15`, taken as UTC); nil when it is not one.
        public static func time(_ text: String) -> Date? {
            Timestamp.parse(text.count == 16 ? text + ":00.000Z" : text)
        }
    }

    /// The view of `page` (up to `limit` runs plus one, newest first) under `filters`, each run's
    /// tasks counted by status in `taskCounts`; runs older than `filters.since` end the list.
    public init(
        filters: Filters, page: [RunRecord], taskCounts: [RunID: [TaskStatus: Int]], limit: Int, now: Date,
        canStart: Bool, csrf: String, workflows: [WorkflowOption]
    ) {
        let shown = page.prefix(limit).filter { filters.since == nil || $0.createdAt >= filters.since! }
        let more = page.count > limit && shown.count == limit
        statuses = RunStatus.allCases.map { StatusOption(value: $0.rawValue, selected: $0 == filters.status) }
        workflow = filters.workflow ?? ""
        since = filters.since.map(Filters.localTime) ?? ""
        filtered = filters.status != nil || filters.workflow != nil || filters.since != nil
        self.canStart = canStart && !workflows.isEmpty
        self.csrf = csrf
        self.workflows = workflows
        runs = shown.map { run in
            Row(
                id: run.id.rawValue, workflow: run.workflowName, version: run.workflowVersion,
                status: run.status.rawValue, createdAt: Timestamp.format(run.createdAt),
                duration: ElapsedText.format((run.endedAt ?? now).timeIntervalSince(run.createdAt)),
                tasks: Self.progress(taskCounts[run.id] ?? [:]), error: run.error)
        }
        caption =
            shown.isEmpty
            ? "No runs"
            : "\(shown.count) run\(shown.count == 1 ? "" : "s")\(filters.cursor == nil ? ", newest first" : ", older")"
        firstPage = filters.cursor == nil ? nil : filters.query(cursor: nil)
        nextPage = more ? filters.query(cursor: shown.last?.id) : nil
    }

    /// `3 of 5`: how many of a run's tasks have ended, of all of them.
    static func progress(_ counts: [TaskStatus: Int]) -> String {
        "\(counts.ended) of \(counts.total)"
    }
}

/// What the run page shows: the run, its task graph and table, its attempts as a timeline and a
/// table, and the actions the principal may take.
public struct RunView: Sendable {
    /// One task or fan-out instance in the table (instances follow their task).
    public struct TaskRow: Sendable {
        public var key: String
        public var anchor: String
        public var status: String
        public var attempts: Int
        public var agent: String?
        public var error: String?
        public var reason: String?
        public var output: String?
        public var instance: Bool
    }

    /// One attempt in the table.
    public struct AttemptRow: Sendable {
        public var key: String
        public var number: Int
        public var agent: String?
        public var status: String
        public var startedAt: String
        public var duration: String
        public var error: String?
        /// The input the agent was given (pretty JSON) or a note that it was redacted, on a
        /// task's page; nil in the run's table.
        public var input: String?
    }

    /// A run that one of this run's `workflow` tasks started.
    public struct ChildRow: Sendable {
        public var id: String
        public var task: String
        public var workflow: String
        public var version: Int
        public var status: String
        /// Started without waiting: its parent's end does not cancel it.
        public var detached: Bool
    }

    /// One of the run's events.
    public struct EventRow: Sendable {
        public var seq: Int64
        public var time: String
        public var type: String
        public var actor: String
        /// The task key for a task's event; nil for the run's own.
        public var task: String?
        /// Whether `seq` links to the ledger page.
        public var ledgerLink: Bool
    }

    public var id: String
    public var workflow: String
    public var version: Int
    public var status: String
    public var terminal: Bool
    public var createdAt: String
    public var endedAt: String?
    public var duration: String
    public var createdBy: String
    public var error: String?
    public var canCancel: Bool
    public var cancelRequested: Bool
    /// True when the run started child runs and the principal may cancel it with every run
    /// below it.
    public var canCancelTree: Bool
    /// True when the run failed or was cancelled and the principal may retry it.
    public var canRetry: Bool
    /// True when the run has ended, may be run again from tasks one names, and the principal may;
    /// `rerunTasks` are the tasks to choose from.
    public var canRerun: Bool
    public var rerunTasks: [String]
    /// How many times the run was retried, and when last (nil when never).
    public var retryCount: Int
    public var retriedAt: String?
    public var retriedBy: String?
    /// The run whose `workflow` task started this one, and that task's key (nil for a run
    /// started otherwise).
    public var parentRun: String?
    public var parentTask: String?
    /// Started by its parent without waiting: the parent's end does not cancel it.
    public var detached: Bool
    /// The newest of the runs this run's `workflow` tasks started (``childLimit`` at most), and
    /// whether it started more.
    public var children: [ChildRow]
    public var hasChildren: Bool
    public var moreChildren: Bool
    public var csrf: String
    public var graph: String
    public var tasks: [TaskRow]
    /// ``tasks`` as the table's rows, written here rather than by the template: a run of 1,000
    /// tasks would otherwise cost thousands of template lookups.
    public var tasksHTML: String
    public var hasAttempts: Bool
    public var timeline: String
    public var attempts: [AttemptRow]
    /// Set when the run has more attempts than ``attempts`` shows.
    public var moreAttempts: String?
    public var events: [EventRow]
    /// The links to the other pages of the run's events.
    public var eventPages: EventPages

    /// The longest output shown inline; longer ones are cut with a note.
    static let outputLimit = 4000

    /// The view of `snapshot`, its graph drawn from `definition` (nil when the workflow's source
    /// no longer parses: the graph then shows the tasks the run has, without edges), with the
    /// run's `events` from seq `eventsFrom` (``eventLimit`` of them and one more, to tell that
    /// there are more), their numbers linking to the ledger page when `ledgerLinks` (principals
    /// who may read it), and its child runs `children` (``childLimit`` of them and one more).
    public init(
        snapshot: RunSnapshot, definition: WorkflowDefinition?, events: [EventRecord] = [], eventsFrom: Int64 = 0,
        children: [RunRecord] = [], now: Date, mayWriteRuns: Bool, ledgerLinks: Bool = false, csrf: String
    ) {
        let run = snapshot.run
        id = run.id.rawValue
        workflow = run.workflowName
        version = run.workflowVersion
        status = run.status.rawValue
        terminal = run.status.isTerminal
        createdAt = Timestamp.format(run.createdAt)
        endedAt = run.endedAt.map(Timestamp.format)
        duration = ElapsedText.format((run.endedAt ?? now).timeIntervalSince(run.createdAt))
        createdBy = run.createdBy ?? "—"
        error = run.error
        canCancel = mayWriteRuns && !run.status.isTerminal && !run.cancelRequested
        cancelRequested = run.cancelRequested && !run.status.isTerminal
        canRetry = mayWriteRuns && run.isRetryable
        rerunTasks = definition?.tasks.map(\.id) ?? []
        canRerun = mayWriteRuns && run.isRerunnable && !rerunTasks.isEmpty
        retryCount = run.retryCount
        retriedAt = run.retriedAt.map(Timestamp.format)
        retriedBy = run.retriedBy
        parentRun = run.parent?.run.rawValue
        parentTask = run.parent?.task
        detached = run.parent?.detached ?? false
        self.children = children.prefix(Self.childLimit).map { child in
            ChildRow(
                id: child.id.rawValue, task: child.parent?.task ?? "", workflow: child.workflowName,
                version: child.workflowVersion, status: child.status.rawValue,
                detached: child.parent?.detached ?? false)
        }
        hasChildren = !children.isEmpty
        // Shown whenever it has children: one below those listed may still be going.
        canCancelTree = mayWriteRuns && hasChildren
        moreChildren = children.count > Self.childLimit
        self.csrf = csrf

        let records = Dictionary(snapshot.tasks.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let instances = Dictionary(grouping: snapshot.tasks.filter { $0.index != nil }, by: \.taskID)
        let taskIDs =
            definition?.tasks.map { (id: $0.id, dependsOn: $0.dependsOn) }
            ?? snapshot.tasks.filter { $0.index == nil }.map { (id: $0.key, dependsOn: []) }
        graph = RunGraph(
            nodes: taskIDs.map { task in
                RunGraph.Node(
                    id: task.id, dependsOn: task.dependsOn,
                    status: records[task.id]?.status.rawValue ?? TaskStatus.pending.rawValue,
                    detail: Self.instanceSummary(records[task.id], instances[task.id] ?? []))
            }
        ).svg()
        var rows: [TaskRow] = []
        for task in taskIDs {
            rows.append(Self.row(records[task.id], key: task.id, instance: false))
            for instance in (instances[task.id] ?? []).sorted(by: { ($0.index ?? 0) < ($1.index ?? 0) }) {
                rows.append(Self.row(instance, key: instance.key, instance: true))
            }
        }
        tasks = rows
        tasksHTML = Self.html(rows, run: run.id.rawValue)

        let all = snapshot.attempts.sorted { ($0.startedAt, $0.key, $0.number) < ($1.startedAt, $1.key, $1.number) }
        // The latest attempts: a timeline of thousands of bars shows nothing more than the tasks table.
        let ordered = all.suffix(Self.attemptLimit)
        hasAttempts = !ordered.isEmpty
        moreAttempts =
            all.count > Self.attemptLimit
            ? "The latest \(Self.attemptLimit) of \(all.count) attempts are shown; the tasks table counts every task's attempts."
            : nil
        timeline = AttemptTimeline(
            origin: run.createdAt, now: run.endedAt ?? now,
            bars: ordered.map {
                AttemptTimeline.Bar(
                    label: "\($0.key) #\($0.number)", status: $0.status.rawValue, start: $0.startedAt, end: $0.endedAt)
            }
        ).svg()
        attempts = ordered.map { attempt in
            AttemptRow(
                key: attempt.key, number: attempt.number, agent: attempt.agentID?.rawValue,
                status: attempt.status.rawValue, startedAt: Timestamp.format(attempt.startedAt),
                duration: ElapsedText.format((attempt.endedAt ?? now).timeIntervalSince(attempt.startedAt)),
                error: attempt.error)
        }
        let prefix = run.id.rawValue + "/"
        self.events = events.prefix(Self.eventLimit).map { record in
            EventRow(
                seq: record.seq, time: Timestamp.format(record.event.time), type: record.event.type,
                actor: record.event.actor,
                task: record.event.subject.hasPrefix(prefix)
                    ? String(record.event.subject.dropFirst(prefix.count)) : nil, ledgerLink: ledgerLinks)
        }
        eventPages = EventPages(
            path: "/runs/\(run.id.rawValue)", from: eventsFrom, events: events, limit: Self.eventLimit)
    }

    /// The most events the page lists.
    public static let eventLimit = 200
    /// The most child runs the page lists.
    public static let childLimit = 50
    /// The most attempts the page draws and lists.
    public static let attemptLimit = 200

    /// `3 of 5 instances succeeded, 1 failed` for a fanned-out task; nil for any other.
    static func instanceSummary(_ record: TaskRecord?, _ instances: [TaskRecord]) -> String? {
        guard let count = record?.instanceCount else { return nil }
        let counts = Dictionary(grouping: instances, by: \.status).mapValues(\.count)
        let parts = TaskStatus.allCases.compactMap { status in
            counts[status].map { "\($0) \(status.rawValue)" }
        }
        return "\(count) instance\(count == 1 ? "" : "s")" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
    }

    /// The tasks table's rows: each task's key (linking to its page), state, attempts, agent,
    /// and its error, reason and output.
    static func html(_ rows: [TaskRow], run: String) -> String {
        var html = ""
        html.reserveCapacity(rows.count * 400)
        for row in rows {
            let key = HTML.escape(row.key)
            html +=
                "<tr id=\"task-\(HTML.escape(row.anchor))\" data-task=\"\(key)\"\(row.instance ? " class=\"instance\"" : "")>"
            html +=
                "<td class=\"mono\"><a href=\"\(HTML.escape(TaskView.path(run: run, key: row.key)))\">\(key)</a></td>"
            html += "<td><span class=\"status s-\(HTML.escape(row.status))\">\(HTML.escape(row.status))</span></td>"
            html += "<td>\(row.attempts)</td><td class=\"mono\">\(HTML.escape(row.agent ?? ""))</td><td>"
            if let error = row.error {
                html +=
                    "<details class=\"task-error\"><summary>Error</summary><pre class=\"error-text\">\(HTML.escape(error))</pre></details>"
            }
            if let reason = row.reason { html += "<span class=\"muted\">\(HTML.escape(reason))</span>" }
            if let output = row.output {
                html += "<details><summary>Output</summary><pre>\(HTML.escape(output))</pre></details>"
            }
            html += "</td></tr>\n"
        }
        return html
    }

    private static func row(_ record: TaskRecord?, key: String, instance: Bool) -> TaskRow {
        var output = record?.output.map(\.prettyJSONText)
        if let text = output, text.count > outputLimit {
            output = String(text.prefix(outputLimit)) + "\n… (\(text.count - outputLimit) more characters)"
        }
        return TaskRow(
            key: key, anchor: RunGraph.anchor(key), status: record?.status.rawValue ?? TaskStatus.pending.rawValue,
            attempts: record?.attempts ?? 0, agent: record?.agentID?.rawValue, error: record?.error,
            reason: record?.reason, output: output, instance: instance)
    }
}

// Rows are looked up by name rather than through `Mirror`, which the templates would otherwise
// use for every value of every row (a run of 1,000 tasks has thousands of them).

extension RunView.AttemptRow: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "key": key
        case "number": number
        case "agent": agent
        case "status": status
        case "startedAt": startedAt
        case "duration": duration
        case "error": error
        case "input": input
        default: nil
        }
    }
}

extension RunView.EventRow: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "seq": seq
        case "time": time
        case "type": type
        case "actor": actor
        case "task": task
        case "ledgerLink": ledgerLink
        default: nil
        }
    }
}

extension RunsView.Row: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "id": id
        case "workflow": workflow
        case "version": version
        case "status": status
        case "createdAt": createdAt
        case "duration": duration
        case "tasks": tasks
        case "error": error
        default: nil
        }
    }
}
