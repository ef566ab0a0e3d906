import Foundation
import UAEFCore

/// A run as stored.
public struct RunRecord: Sendable, Hashable {
    public var id: RunID
    public var tenant: String
    public var workflowName: String
    public var workflowVersion: Int
    /// The workflow file's text, re-read when the run resumes.
    public var workflowSource: String
    /// The file name the workflow came from, for messages.
    public var workflowFile: String
    /// The effective inputs: defaults merged with the overrides given at start.
    public var inputs: [String: JSONValue]
    public var status: RunStatus
    public var error: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var endedAt: Date?
    /// Set by `uaef runs cancel`; the process executing the run acts on it.
    public var cancelRequested: Bool
    /// The process executing the run (`host/pid`), while it holds the lease.
    public var owner: String?
    public var leaseExpiresAt: Date?
    /// Counts the claims of the run's lease: every claim takes the next generation, and a commit
    /// fenced with an older one is refused (``LeaseFence``).
    public var leaseGeneration: Int64
    /// How many times the run was retried after it failed or was cancelled
    /// (``WorkflowStore/reopen(_:at:holder:changes:)``).
    public var retryCount: Int
    /// When the run was last retried: its timeout counts from then. Nil when it never was.
    public var retriedAt: Date?
    /// Who retried the run last, or for a child never retried, the run above it when it was
    /// started (nil when none was): a maker of what its latest go leads to (maker-checker).
    public var retriedBy: String?
    /// Who started the run (`cli:<user>`, later an API principal): the maker its settlements name.
    public var createdBy: String?
    /// The W3C `traceparent` of the span that created the run (an API request, say), so the
    /// run's spans join that trace in any process that executes it; nil when none was active.
    public var traceParent: String?
    /// The run and task that started this run as a child (a `workflow` task); nil for a run
    /// started otherwise.
    public var parent: RunParent?
    /// How deep the run nests under other runs: 0 when it has no parent, its parent's depth + 1.
    public var depth: Int

    public init(
        id: RunID, tenant: String, workflowName: String, workflowVersion: Int, workflowSource: String,
        workflowFile: String, inputs: [String: JSONValue], status: RunStatus, error: String? = nil, createdAt: Date,
        updatedAt: Date, endedAt: Date? = nil, cancelRequested: Bool = false, owner: String? = nil,
        leaseExpiresAt: Date? = nil, leaseGeneration: Int64 = 0, createdBy: String? = nil,
        traceParent: String? = nil, retryCount: Int = 0, retriedAt: Date? = nil, retriedBy: String? = nil,
        parent: RunParent? = nil,
        depth: Int = 0
    ) {
        self.id = id
        self.tenant = tenant
        self.workflowName = workflowName
        self.workflowVersion = workflowVersion
        self.workflowSource = workflowSource
        self.workflowFile = workflowFile
        self.inputs = inputs
        self.status = status
        self.error = error
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.endedAt = endedAt
        self.cancelRequested = cancelRequested
        self.owner = owner
        self.leaseExpiresAt = leaseExpiresAt
        self.leaseGeneration = leaseGeneration
        self.createdBy = createdBy
        self.traceParent = traceParent
        self.retryCount = retryCount
        self.retriedAt = retriedAt
        self.retriedBy = retriedBy
        self.parent = parent
        self.depth = depth
    }

    /// When the run's timeout started counting: its creation, or its latest retry.
    public var timeoutStart: Date { retriedAt ?? createdAt }

    /// The most retries of one run (as Step Functions allows 1,000 redrives of an execution).
    public static let maximumRetries = 1_000

    /// Whether the run may be retried from where it stopped: it failed or was cancelled, and has
    /// retries left.
    public var isRetryable: Bool {
        (status == .failed || status == .cancelled) && retryCount < Self.maximumRetries
    }

    /// Whether the run may be run again from tasks one names: it has ended, whatever its end, and
    /// has retries left; a succeeded one unless it is a child its parent waited for (the parent has
    /// taken its outputs).
    public var isRerunnable: Bool {
        status.isTerminal && retryCount < Self.maximumRetries
            && !(status == .succeeded && parent?.detached == false)
    }
}

/// Where a child run comes from: the run whose `workflow` task started it, and that task's key.
public struct RunParent: Sendable, Hashable {
    public var run: RunID
    /// The task's key (`id` or `id[index]`).
    public var task: String
    /// Started without waiting (`wait: false`): the child goes on whatever its parent comes to, and
    /// is not cancelled with it.
    public var detached: Bool

    public init(run: RunID, task: String, detached: Bool = false) {
        self.run = run
        self.task = task
        self.detached = detached
    }
}

/// A task, or one instance `id[index]` of a fanned-out task, as stored.
public struct TaskRecord: Sendable, Hashable {
    public var tenant: String
    public var runID: RunID
    /// `id` or `id[index]`.
    public var key: String
    public var taskID: String
    /// The element index for a fan-out instance.
    public var index: Int?
    public var status: TaskStatus
    /// Attempts started so far.
    public var attempts: Int
    /// The agent of the latest attempt of a capability task.
    public var agentID: AgentID?
    public var output: JSONValue?
    public var error: String?
    /// Why a task was skipped or is waiting.
    public var reason: String?
    /// When the next attempt is due, while `retry_scheduled`.
    public var nextAttemptAt: Date?
    /// For a fan-out instance, its element (`item`).
    public var item: JSONValue?
    /// For a fanned-out task, how many instances it has.
    public var instanceCount: Int?
    /// The attempts started before the run's latest retry reopened the task: they do not count
    /// against its `retry.max_attempts`, so a retried task gets its retries afresh.
    public var attemptsBeforeRetry: Int
    public var updatedAt: Date

    public init(
        tenant: String, runID: RunID, key: String, taskID: String, index: Int? = nil, status: TaskStatus,
        attempts: Int = 0,
        agentID: AgentID? = nil, output: JSONValue? = nil, error: String? = nil, reason: String? = nil,
        nextAttemptAt: Date? = nil, item: JSONValue? = nil, instanceCount: Int? = nil, attemptsBeforeRetry: Int = 0,
        updatedAt: Date
    ) {
        self.tenant = tenant
        self.runID = runID
        self.key = key
        self.taskID = taskID
        self.index = index
        self.status = status
        self.attempts = attempts
        self.agentID = agentID
        self.output = output
        self.error = error
        self.reason = reason
        self.nextAttemptAt = nextAttemptAt
        self.item = item
        self.instanceCount = instanceCount
        self.attemptsBeforeRetry = attemptsBeforeRetry
        self.updatedAt = updatedAt
    }
}

/// One attempt at a task.
public struct AttemptRecord: Sendable, Hashable {
    public var tenant: String
    public var runID: RunID
    public var key: String
    /// 1 for the first try.
    public var number: Int
    /// Stable across a resumed run; agents use it to make their effects idempotent.
    public var idempotencyKey: String
    public var agentID: AgentID?
    public var status: AttemptStatus
    public var startedAt: Date
    public var endedAt: Date?
    public var error: String?

    public init(
        tenant: String, runID: RunID, key: String, number: Int, idempotencyKey: String, agentID: AgentID?,
        status: AttemptStatus,
        startedAt: Date, endedAt: Date? = nil, error: String? = nil
    ) {
        self.tenant = tenant
        self.runID = runID
        self.key = key
        self.number = number
        self.idempotencyKey = idempotencyKey
        self.agentID = agentID
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.error = error
    }
}

/// A registered agent.
public struct AgentRecord: Sendable, Hashable {
    public var id: AgentID
    public var tenant: String
    public var name: String
    /// The agent kind that executes its work (`command`, `http`, …).
    public var kind: String
    public var capabilities: [String]
    /// Parameters merged under each task's `with`.
    public var configuration: [String: JSONValue]
    public var maxConcurrency: Int
    public var status: AgentStatus
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: AgentID, tenant: String, name: String, kind: String, capabilities: [String],
        configuration: [String: JSONValue], maxConcurrency: Int, status: AgentStatus, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenant = tenant
        self.name = name
        self.kind = kind
        self.capabilities = capabilities
        self.configuration = configuration
        self.maxConcurrency = maxConcurrency
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What an agent has done, computed from its attempts.
public struct AgentMetrics: Sendable, Hashable {
    public var attempts: Int
    public var successes: Int
    public var failures: Int
    public var runningNow: Int
    public var p50Milliseconds: Int?
    public var p95Milliseconds: Int?
    public var lastActiveAt: Date?

    public init(
        attempts: Int, successes: Int, failures: Int, runningNow: Int, p50Milliseconds: Int?, p95Milliseconds: Int?,
        lastActiveAt: Date?
    ) {
        self.attempts = attempts
        self.successes = successes
        self.failures = failures
        self.runningNow = runningNow
        self.p50Milliseconds = p50Milliseconds
        self.p95Milliseconds = p95Milliseconds
        self.lastActiveAt = lastActiveAt
    }
}

/// An event before the store gives it its place (`seq`) in the log.
public struct EventDraft: Sendable, Hashable {
    public var id: String
    public var time: Date
    /// e.g. `task.succeeded`.
    public var type: String
    /// Who caused it: `engine`, `cli:<user>`, an agent id.
    public var actor: String
    public var tenant: String
    /// The run and task (or agent) it is about, e.g. `run_01…/extract[2]`.
    public var subject: String
    /// What the ledger hashes. A stored event's data also holds a `<name>_sha256` member per payload.
    public var data: [String: JSONValue]
    /// Task inputs and outputs, kept beside the event and hashed into it only as digests (see
    /// ``EventPayloads``). A stored event lacks the payloads that were redacted.
    public var payloads: [String: JSONValue]

    public init(
        id: String, time: Date, type: String, actor: String, tenant: String, subject: String,
        data: [String: JSONValue], payloads: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.time = time
        self.type = type
        self.actor = actor
        self.tenant = tenant
        self.subject = subject
        self.data = data
        self.payloads = payloads
    }
}

/// An event's place and kind, without its data.
public struct EventHeader: Sendable, Hashable {
    public var seq: Int64
    public var tenant: String
    public var type: String
    public var subject: String

    public init(seq: Int64, tenant: String, type: String, subject: String) {
        self.seq = seq
        self.tenant = tenant
        self.type = type
        self.subject = subject
    }
}

/// A stored event: its draft and its gap-free sequence number from 0.
public struct EventRecord: Sendable, Hashable {
    public var seq: Int64
    public var event: EventDraft

    public init(seq: Int64, event: EventDraft) {
        self.seq = seq
        self.event = event
    }
}

/// Everything one state change writes, committed in one transaction with its events.
public struct ChangeSet: Sendable {
    public var runs: [RunRecord] = []
    public var tasks: [TaskRecord] = []
    public var attempts: [AttemptRecord] = []
    public var agents: [AgentRecord] = []
    /// New workflow versions; the commit fails with ``KeyTaken`` when a version is taken.
    public var workflows: [WorkflowRecord] = []
    /// Idempotency keys of run requests; the commit fails with ``KeyTaken`` when a key is taken.
    public var runRequests: [RunRequestRecord] = []
    /// Steps of `llm` tasks' conversations; the commit fails with ``ConversationStepTaken`` when
    /// a step's place is taken.
    public var conversationSteps: [ConversationStep] = []
    /// Tasks' checkpoints, each replacing the task's last one.
    public var taskCheckpoints: [TaskCheckpoint] = []
    /// Schedules' states after firings; the commit fails with ``ScheduleClaimLost`` when a
    /// firing's claim was lost.
    public var scheduleFirings: [ScheduleFiringRecord] = []
    public var events: [EventDraft] = []
    /// The leases the writer must still hold for the commit to be accepted; nil to write unfenced.
    public var fence: LeaseFence?

    public init() {}

    /// True when there is nothing to write.
    public var isEmpty: Bool {
        runs.isEmpty && tasks.isEmpty && attempts.isEmpty && agents.isEmpty && workflows.isEmpty
            && runRequests.isEmpty && conversationSteps.isEmpty && taskCheckpoints.isEmpty && scheduleFirings.isEmpty
            && events.isEmpty
    }

    /// Appends another change set's writes after this one's.
    public mutating func append(_ other: ChangeSet) {
        runs += other.runs
        tasks += other.tasks
        attempts += other.attempts
        agents += other.agents
        workflows += other.workflows
        runRequests += other.runRequests
        conversationSteps += other.conversationSteps
        taskCheckpoints += other.taskCheckpoints
        scheduleFirings += other.scheduleFirings
        events += other.events
    }
}

/// What a lease holder claims to hold when it commits: refused with ``LeaseLost`` unless every
/// run named is still held by `owner` at the generation given, so a stalled process that wakes
/// after its lease was taken over cannot overwrite newer work.
public struct LeaseFence: Sendable, Hashable {
    public var owner: String
    public var generations: [RunID: Int64]

    public init(owner: String, generations: [RunID: Int64]) {
        self.owner = owner
        self.generations = generations
    }

    /// The runs whose stored holder and generation differ from the fence's.
    public func lost(_ stored: [(id: RunID, owner: String?, generation: Int64)]) -> [RunID] {
        let found = Dictionary(stored.map { ($0.id, $0) }) { first, _ in first }
        return generations.keys.sorted().filter { run in
            guard let row = found[run] else { return true }
            return row.owner != owner || row.generation != generations[run]
        }
    }
}

/// When a run's lease may be claimed.
public enum LeaseRule {
    /// A lease is claimable when nobody holds it, it expired, or its holder is a process known to
    /// be dead. A live lease of `owner` itself is not: it is executing that run now (a runner
    /// that gives up a batch releases its leases itself).
    public static func isClaimable(
        holder: String?, expiresAt: Int64?, now: Date, isOwnerAlive: (String) -> Bool
    ) -> Bool {
        guard let holder, let expiresAt, expiresAt > Timestamp.milliseconds(now) else { return true }
        return !isOwnerAlive(holder)
    }
}

/// A commit refused by its ``LeaseFence``: nothing was written.
public struct LeaseLost: Error, CustomStringConvertible {
    public let runs: [RunID]

    public init(runs: [RunID]) { self.runs = runs }

    public var description: String {
        "the lease of \(runs.map(\.rawValue).joined(separator: ", ")) was taken over by another process"
    }
}

/// A run with its tasks and attempts.
public struct RunSnapshot: Sendable {
    public var run: RunRecord
    public var tasks: [TaskRecord]
    public var attempts: [AttemptRecord]

    public init(run: RunRecord, tasks: [TaskRecord], attempts: [AttemptRecord]) {
        self.run = run
        self.tasks = tasks
        self.attempts = attempts
    }
}

/// What ``WorkflowStore/redactPayloads(of:tenant:task:event:)`` did.
public enum RedactionOutcome: Sendable {
    /// The payloads were erased; the `payload.redacted` event as appended.
    case redacted(EventRecord)
    /// The tenant has no such run.
    case runNotFound
    /// The run has not ended; its payloads are still inputs to its tasks.
    case runActive(RunStatus)
}

extension AgentMetrics {
    /// The metrics of attempts given as status and start/end times (milliseconds since 1970):
    /// counts, running now, nearest-rank p50 and p95 of the ended ones' durations, last activity.
    public init(attempts: [(status: AttemptStatus, started: Int64, ended: Int64?)]) {
        self.init(
            attempts: attempts.count, successes: 0, failures: 0, runningNow: 0, p50Milliseconds: nil,
            p95Milliseconds: nil, lastActiveAt: nil)
        var durations: [Int] = []
        var lastActive: Int64?
        for attempt in attempts {
            switch attempt.status {
            case .running: runningNow += 1
            case .succeeded: successes += 1
            default: failures += 1
            }
            if let ended = attempt.ended { durations.append(Int(ended - attempt.started)) }
            lastActive = max(lastActive ?? 0, attempt.ended ?? attempt.started)
        }
        durations.sort()
        p50Milliseconds = Self.percentile(durations, 50)
        p95Milliseconds = Self.percentile(durations, 95)
        lastActiveAt = lastActive.map { Timestamp.date(milliseconds: $0) }
    }

    /// The metrics of each of `agents` from their attempts' rows (an agent without any gets empty ones).
    public static func byAgent(
        _ rows: [(agent: AgentID, attempt: (status: AttemptStatus, started: Int64, ended: Int64?))], agents: [AgentID]
    ) -> [AgentID: AgentMetrics] {
        let grouped = Dictionary(grouping: rows, by: \.agent)
        return Dictionary(
            uniqueKeysWithValues: agents.map { agent in
                (agent, AgentMetrics(attempts: (grouped[agent] ?? []).map(\.attempt)))
            })
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Int], _ percent: Int) -> Int? {
        guard !sorted.isEmpty else { return nil }
        let rank = (percent * sorted.count + 99) / 100
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}
