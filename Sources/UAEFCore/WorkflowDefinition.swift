/// A validated workflow: a DAG of tasks with its inputs, limits and source text.
public struct WorkflowDefinition: Sendable, Hashable {
    /// The workflow's name (required).
    public var name: String
    /// The version, an integer from 1 (default 1).
    public var version: Int
    /// Free text for people.
    public var description: String?
    /// Input defaults; a run may override any of them, and may not add others.
    public var inputs: [String: JSONValue]
    /// The longest the whole run may take.
    public var timeout: Duration?
    /// The most attempts of this run that may execute at once; nil leaves it to the runner.
    public var concurrency: Int?
    /// The tasks in file order.
    public var tasks: [TaskDefinition]
    /// The text the definition was read from, stored with each run so a resumed run sees the same workflow.
    public var source: String

    /// The task with `id`, if any.
    public func task(_ id: String) -> TaskDefinition? { tasks.first { $0.id == id } }
}

/// One task of a workflow.
public struct TaskDefinition: Sendable, Hashable {
    /// Unique within the workflow, `[a-z0-9_-]+`.
    public var id: String
    /// Who executes it.
    public var executor: Executor
    /// Parameters, whose strings may hold templates.
    public var parameters: ValueTemplate
    /// Ids of the tasks that must finish first.
    public var dependsOn: [String]
    /// A condition, usually one `${{ }}` template; false skips the task.
    public var condition: ValueTemplate?
    /// A list, or a template that gives one, to fan out over: one instance per element.
    public var forEach: ValueTemplate?
    /// When the task may run once its dependencies are finished.
    public var trigger: TriggerRule
    /// How failed attempts are retried.
    public var retry: RetryPolicy
    /// The longest one attempt may take.
    public var timeout: Duration?

    /// Who executes a task: a built-in agent kind or any active agent with a capability.
    public enum Executor: Sendable, Hashable {
        case agentKind(String)
        case capability(String)
    }
}

/// When a task may run, given how its dependencies ended.
public enum TriggerRule: String, Sendable, Hashable, CaseIterable {
    /// Every dependency succeeded or was skipped (the default).
    case noneFailed = "none_failed"
    /// Every dependency succeeded; a skipped one skips this task too.
    case allSuccess = "all_success"
    /// Whatever happened: for cleanup.
    case allDone = "all_done"
    /// At least one dependency failed: for compensation and alerts.
    case oneFailed = "one_failed"
    /// At least one dependency succeeded.
    case oneSuccess = "one_success"
}

/// Retry policy: exponential backoff with optional jitter.
public struct RetryPolicy: Sendable, Hashable {
    /// How many attempts of one task cut off by a stopped process (a crash, `kill -9`, a lost
    /// worker) are retried at once, not counted against ``maxAttempts``: 5. A task whose program
    /// takes its process down every time still ends.
    public static let maximumInterruptions = 5

    /// Attempts in all, counting the first try (default 1: no retry). Attempts interrupted by a
    /// stopped process do not count.
    public var maxAttempts: Int
    /// Delay before the first retry (default 1s).
    public var backoff: Duration
    /// The longest delay between attempts (default 5m).
    public var maxBackoff: Duration
    /// Growth of the delay per retry (default 2).
    public var multiplier: Number
    /// Randomise each delay between half and all of it (default on).
    public var jitter: Bool

    public init(maxAttempts: Int, backoff: Duration, maxBackoff: Duration, multiplier: Number, jitter: Bool) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The defaults named above.
    public static let `default` = RetryPolicy(
        maxAttempts: 1, backoff: .seconds(1), maxBackoff: .seconds(300), multiplier: Number(2), jitter: true)

    /// The delay before attempt `attempt + 1`, after `attempt` attempts failed; `unit` in 0..<1 drives jitter.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        var milliseconds = Number(Int(backoff.milliseconds))
        for _ in 1..<max(attempt, 1) {
            guard let next = try? milliseconds * multiplier,
                next.decimal <= Number(Int(maxBackoff.milliseconds)).decimal
            else {
                milliseconds = Number(Int(maxBackoff.milliseconds))
                break
            }
            milliseconds = next
        }
        let capped = min(milliseconds.truncated.intValue ?? Int(maxBackoff.milliseconds), Int(maxBackoff.milliseconds))
        let jittered = jitter ? capped / 2 + Int(Double(capped - capped / 2) * unit) : capped
        return .milliseconds(jittered)
    }
}
