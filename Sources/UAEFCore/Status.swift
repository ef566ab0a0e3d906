/// Where a run is in its life.
public enum RunStatus: String, Sendable, Hashable, CaseIterable {
    case pending, running, succeeded, failed, cancelled

    /// True once the run has ended; only a retry (`uaef runs retry`) reopens it.
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// Where a task (or one instance of a fanned-out task) is in its life.
public enum TaskStatus: String, Sendable, Hashable, CaseIterable {
    /// Waiting for its dependencies.
    case pending
    /// May run; waiting for a slot under the run's concurrency limit.
    case ready
    /// Needs an agent with its capability, and none is active and free.
    case waiting
    /// An attempt is executing.
    case running
    /// An attempt failed; the next one is scheduled.
    case retrying = "retry_scheduled"
    case succeeded, failed, skipped, cancelled

    /// True once the task can change no more.
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .skipped || self == .cancelled }
}

extension Dictionary where Key == TaskStatus, Value == Int {
    /// How many tasks are counted, in every status.
    public var total: Int { values.reduce(0, +) }
    /// How many of the counted tasks have ended (succeeded, failed, skipped or cancelled).
    public var ended: Int { filter(\.key.isTerminal).values.reduce(0, +) }
}

/// Where an agent is in its life.
public enum AgentStatus: String, Sendable, Hashable, CaseIterable {
    case registered, active, suspended, retired
}

/// How one attempt ended, or that it is still running.
public enum AttemptStatus: String, Sendable, Hashable {
    case running, succeeded, failed
    case timedOut = "timed_out"
    case cancelled, interrupted
}
