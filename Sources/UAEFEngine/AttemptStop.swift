import Synchronization

/// Why the runner is stopping an executing attempt, for kinds whose work outlives the attempt
/// unless they end it (a `workflow` task's child run): the attempt timed out, or its task was
/// cancelled (its run cancelled or timed out). An attempt stopped for neither (its process is
/// stopping, or lost the run's lease) has no reason: its work is to be resumed, not ended.
///
/// The runner that executes an attempt sets ``current`` for it and gives the reason before it
/// cancels the attempt's task, so a kind reads it in its cancellation handler.
public final class AttemptStop: Sendable {
    public enum Reason: Sendable, Equatable {
        /// The task's `timeout` ran out.
        case timedOut
        /// The task was cancelled: its run was cancelled or ran out of time.
        case cancelled
    }

    /// The stop signal of the attempt executing in this task, where a runner executes it.
    @TaskLocal public static var current: AttemptStop?

    private let given = Mutex<Reason?>(nil)

    public init() {}

    /// Why the attempt is being stopped; nil while it is not, or when its work is to be resumed.
    public var reason: Reason? { given.withLock { $0 } }

    /// Records why the attempt is stopped; the first reason given stands.
    func give(_ reason: Reason) {
        given.withLock { given in
            if given == nil { given = reason }
        }
    }
}
