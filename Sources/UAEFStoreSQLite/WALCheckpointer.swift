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
/// every commit: ``CheckpointSchedule`` decides when, and this class does what it says. Light
/// traffic (a commit every few tens of milliseconds) then pays one checkpoint a second instead of
/// two more fsyncs per commit, and heavy traffic keeps the log short.
final class WALCheckpointer: Sendable {
    private let connection: DatabaseQueue
    private let schedule = Mutex(CheckpointSchedule())

    /// A checkpointer held without keeping it alive.
    private struct Reference: Sendable {
        weak var checkpointer: WALCheckpointer?
    }

    /// This process's checkpointers, for ``checkpointAll()``.
    private static let all = Mutex<[ObjectIdentifier: Reference]>([:])

    init(path: String) throws {
        // Opening reads the schema, which waits while another connection holds the file: the last
        // connection of a store closing just before checkpoints and removes the log.
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        Self.all.withLock { $0[ObjectIdentifier(self)] = Reference(checkpointer: self) }
    }

    deinit {
        Self.all.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
    }

    /// Copies every open store's log into its database file at once, waiting for nobody, and
    /// empties the log when no other connection uses it; for a process about to exit, whose
    /// commits would otherwise stay in the log alone (safe, but a copy of the database file
    /// without its `-wal` would miss them). With another process reading, what that reader still
    /// needs stays in the log.
    static func checkpointAll() {
        for reference in all.withLock({ Array($0.values) }) {
            reference.checkpointer?.checkpointWhole()
        }
    }

    /// A truncating checkpoint that gives up instead of waiting: with a busy timeout of zero,
    /// SQLite copies what it can as a passive checkpoint would when another connection is busy.
    private func checkpointWhole() {
        try? connection.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA busy_timeout = 0")
            _ = try db.checkpoint(.truncate)
        }
    }

    /// Checkpoints that ran without an error since the store opened.
    var checkpoints: Int { schedule.withLock { $0.checkpoints } }

    /// Called after a commit left the log `logPages` pages long; returns at once.
    func committed(logPages: Int) {
        perform(schedule.withLock { $0.committed(logPages: logPages, at: .now) })
    }

    private func perform(_ action: CheckpointSchedule.Action) {
        switch action {
        case .none: break
        case .checkpoint: checkpoint()
        case .wake(let instant):
            let (seconds, attoseconds) = ContinuousClock.now.duration(to: instant).components
            let nanoseconds = max(0, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                self.perform(self.schedule.withLock { $0.woke(for: instant, at: .now) })
            }
        }
    }

    /// Checkpoints on the checkpointer's own connection, then does what the schedule says next.
    private func checkpoint() {
        connection.asyncWriteWithoutTransaction { db in
            self.schedule.withLock { $0.checkpointBegan() }
            // Passive: copies what no reader still needs and waits for nobody.
            let copied = (try? db.checkpoint(.passive)).map {
                CheckpointSchedule.Copied(pages: $0.checkpointedFrameCount, of: $0.walFrameCount)
            }
            self.perform(self.schedule.withLock { $0.checkpointEnded(copied, at: .now) })
        }
    }
}
