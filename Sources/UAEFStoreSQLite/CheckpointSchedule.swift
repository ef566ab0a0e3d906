/// When ``WALCheckpointer`` copies the log, as a pure state machine over the instants it is told.
///
/// A checkpoint is due once the log holds ``largeLog`` pages not yet copied, or ``quietDelay``
/// after the first commit not yet copied, whichever comes first, and never sooner than
/// ``minimumGap`` after the last checkpoint ended. Between checkpoints the schedule asks for one
/// wake-up, at the instant the next one is due (sooner when a commit makes the log long), rather
/// than to be polled.
struct CheckpointSchedule {
    typealias Instant = ContinuousClock.Instant

    /// What the checkpointer does next.
    enum Action: Equatable {
        case none
        /// Checkpoint now, then report with ``checkpointBegan()`` and ``checkpointEnded(_:at:)``.
        case checkpoint
        /// Call ``woke(for:at:)`` with this instant, once it has come.
        case wake(at: Instant)
    }

    /// What a checkpoint did: the pages it copied of the log's pages.
    struct Copied: Equatable {
        var pages: Int
        var of: Int
    }

    /// The least time from the end of one checkpoint to the start of the next.
    static let minimumGap: Duration = .milliseconds(50)
    /// The longest a commit waits to be copied while the log stays short.
    static let quietDelay: Duration = .seconds(1)
    /// A log this long (in pages; SQLite's own automatic checkpoint threshold, 4 MiB of 4 KiB
    /// pages) is copied without waiting for ``quietDelay``.
    static let largeLog = 1000

    /// Checkpoints that ran without an error.
    private(set) var checkpoints = 0
    /// When the first commit not yet copied was made; nil when none waits.
    private var waitingSince: Instant?
    /// The log's length in pages after the last commit.
    private var logPages = 0
    /// The pages the last checkpoint copied when it could not copy them all: until the log
    /// starts over (a reader still needs it), they stay in its length. Zero when it copied
    /// everything, after which the next commit starts the log over.
    private var copiedPages = 0
    /// Whether a checkpoint was asked for and has not ended.
    private var running = false
    /// When the last checkpoint ended.
    private var lastEnded: Instant?
    /// The wake-up asked for and still wanted; a wake-up for another instant is stale.
    private var wake: Instant?

    /// A commit left the log `logPages` pages long.
    mutating func committed(logPages: Int, at now: Instant) -> Action {
        self.logPages = logPages
        if waitingSince == nil { waitingSince = now }
        return next(now)
    }

    /// The wake-up asked for `instant` came (at `now`).
    mutating func woke(for instant: Instant, at now: Instant) -> Action {
        // Superseded by an earlier wake-up, or a checkpoint was asked for since.
        guard wake == instant else { return .none }
        wake = nil
        return next(now)
    }

    /// The checkpoint asked for starts: what is committed from here on waits for the next one.
    mutating func checkpointBegan() {
        waitingSince = nil
    }

    /// The checkpoint ended at `now`, having copied `copied` (nil when it failed). What it could
    /// not copy (a reader still needs it, or another connection was checkpointing) waits for
    /// another quiet delay, unless new commits make the log long first.
    mutating func checkpointEnded(_ copied: Copied?, at now: Instant) -> Action {
        running = false
        lastEnded = now
        let complete = copied.map { $0.pages >= $0.of } ?? false
        if let copied {
            checkpoints += 1
            copiedPages = complete ? 0 : copied.pages
        }
        if !complete, waitingSince == nil { waitingSince = now }
        return next(now)
    }

    /// Whether the pages not yet copied make a long log.
    private var isLogLong: Bool {
        // A log shorter than what was copied has started over.
        (logPages >= copiedPages ? logPages - copiedPages : logPages) >= Self.largeLog
    }

    private mutating func next(_ now: Instant) -> Action {
        guard !running, let since = waitingSince else { return .none }
        let allowed = lastEnded.map { $0 + Self.minimumGap } ?? now
        let due = isLogLong ? allowed : max(allowed, since + Self.quietDelay)
        if due <= now {
            running = true
            wake = nil
            return .checkpoint
        }
        if let wake, wake <= due { return .none }
        wake = due
        return .wake(at: due)
    }
}
