import Foundation
import GRDB
import Synchronization

/// Copies committed pages from the write-ahead log back into the database file, on a connection
/// of its own, after commits.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (the copying
/// and an fsync of the database file included), so every few megabytes one caller's commit
/// waited for it. With the automatic checkpoint off on the store's connections, this one runs
/// passive checkpoints beside the writer: they never block it, and the log is reused from its
/// start once a checkpoint has caught up.
///
/// A checkpoint costs two fsyncs (the log's, then the database file's), so it is not run after
/// every commit: once the log holds ``largeLog`` pages, or ``quietDelay`` after the first commit
/// not yet copied, whichever comes first, and never sooner than ``pollInterval`` after the last.
/// Light traffic (a commit every few tens of milliseconds) then pays one checkpoint a second
/// instead of two more fsyncs per commit, and heavy traffic keeps the log short.
final class WALCheckpointer: Sendable {
    /// How often a waiting checkpoint looks at the log again.
    static let pollInterval: DispatchTimeInterval = .milliseconds(50)
    /// The longest a commit waits to be copied while the log stays short.
    static let quietDelay: Duration = .seconds(1)
    /// A log this long (in pages; SQLite's own automatic checkpoint threshold, 4 MiB of 4 KiB
    /// pages) is copied without waiting for ``quietDelay``.
    static let largeLog = 1000

    private struct State {
        /// When the first commit not yet copied was made; nil when none waits.
        var waitingSince: ContinuousClock.Instant?
        /// The log's length in pages after the last commit.
        var logPages = 0
        /// The pages the last checkpoint copied when it could not copy them all: until the log
        /// starts over (a reader still needs it), they stay in its length. Zero when it copied
        /// everything, after which the next commit starts the log over.
        var copiedPages = 0
        /// Whether a checkpoint runs or one is waited for.
        var scheduled = false
        /// Checkpoints that ran without an error since the store opened.
        var checkpoints = 0

        /// Whether the pages not yet copied make a long log.
        var isLogLong: Bool {
            // A log shorter than what was copied has started over.
            (logPages >= copiedPages ? logPages - copiedPages : logPages) >= WALCheckpointer.largeLog
        }
    }

    private let connection: DatabaseQueue
    private let state = Mutex(State())

    init(path: String) throws {
        // Opening reads the schema, which waits while another connection holds the file: the last
        // connection of a store closing just before checkpoints and removes the log.
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Checkpoints that ran without an error since the store opened.
    var checkpoints: Int { state.withLock { $0.checkpoints } }

    /// Called after a commit left the log `logPages` pages long; returns at once.
    func committed(logPages: Int) {
        let start = state.withLock { state -> (now: Bool, later: Bool) in
            state.logPages = logPages
            if state.waitingSince == nil { state.waitingSince = .now }
            defer { state.scheduled = true }
            return state.scheduled ? (false, false) : (state.isLogLong, !state.isLogLong)
        }
        if start.now { checkpoint() }
        if start.later { check(after: Self.pollInterval) }
    }

    /// Checkpoints if the log is long or its oldest waiting commit is old enough, looks again
    /// later while commits wait, and stops when none does.
    private func check(after delay: DispatchTimeInterval) {
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
            let due = self.state.withLock { state -> Bool? in
                guard let since = state.waitingSince else {
                    state.scheduled = false
                    return nil
                }
                return state.isLogLong || .now - since >= Self.quietDelay
            }
            switch due {
            case true?: self.checkpoint()
            case false?: self.check(after: Self.pollInterval)
            case nil: break
            }
        }
    }

    /// Checkpoints on the checkpointer's own connection, then looks again one interval later.
    private func checkpoint() {
        connection.asyncWriteWithoutTransaction { db in
            self.state.withLock { $0.waitingSince = nil }
            // Passive: copies what no reader still needs and waits for nobody. What it could not
            // copy (a reader still needs it, or another connection was checkpointing) waits for
            // another quiet delay, unless new commits make the log long first.
            let result = try? db.checkpoint(.passive)
            let complete = result.map { $0.checkpointedFrameCount >= $0.walFrameCount } ?? false
            self.state.withLock { state in
                if let result {
                    state.checkpoints += 1
                    state.copiedPages = complete ? 0 : result.checkpointedFrameCount
                }
                if !complete, state.waitingSince == nil { state.waitingSince = .now }
            }
            self.check(after: Self.pollInterval)
        }
    }
}
