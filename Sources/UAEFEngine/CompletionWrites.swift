import Synchronization
import UAEFStore

/// Writes an attempt hands to the runner to commit together with its completion, instead of in a
/// commit (and fsync) of their own: an `llm` attempt's final model call, say, whose step nothing
/// reads before the task ends.
///
/// The runner that executes an attempt sets ``current`` for it. They are committed only if the
/// attempt's end is accepted (it is still the task's current attempt); otherwise, and when the
/// attempt fails, times out or is cancelled, they are dropped, so an agent must hand over only
/// what it may lose as it may lose an uncommitted result. Where no runner collects them (a queued
/// attempt that `uaef worker` executes, a tool call), ``current`` is nil and the agent commits
/// itself.
public final class CompletionWrites: Sendable {
    /// The collector of the attempt executing in this task, if its runner commits such writes.
    @TaskLocal public static var current: CompletionWrites?

    private let collected = Mutex(ChangeSet())

    public init() {}

    /// Adds `changes` to what commits with the attempt's completion.
    public func add(_ changes: ChangeSet) {
        collected.withLock { $0.append(changes) }
    }

    /// Everything added so far; empties the collector.
    public func take() -> ChangeSet {
        collected.withLock { collected in
            defer { collected = ChangeSet() }
            return collected
        }
    }
}
