import Foundation
import GRDB
import Synchronization

/// Copies committed pages from the write-ahead log back into the database file, on a connection
/// of its own, after commits.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (the copying
/// and an fsync of the database file included), so every few megabytes one caller's commit
/// waited for it. With the automatic checkpoint off on the store's connections, this one runs
/// passive checkpoints beside the writer: they never block it, requests that arrive while one
/// runs or within ``interval`` of the last are folded into the next (a checkpoint's fsync per
/// commit would compete with the commits' own), and the log is reused from its start once a
/// checkpoint has caught up.
final class WALCheckpointer: Sendable {
    /// The least time between two checkpoints.
    static let interval: DispatchTimeInterval = .milliseconds(50)

    private let connection: DatabaseQueue
    private let state = Mutex<(requested: Bool, running: Bool)>((false, false))

    init(path: String) throws {
        // Opening reads the schema, which waits while another connection holds the file: the last
        // connection of a store closing just before checkpoints and removes the log.
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Asks for a checkpoint after a commit; returns at once.
    func request() {
        let start = state.withLock { state in
            state.requested = true
            defer { state.running = true }
            return !state.running
        }
        if start { checkpoint() }
    }

    /// Checkpoints on the checkpointer's own connection, then, one interval later, again if it was
    /// asked meanwhile (else the next request starts one at once).
    private func checkpoint() {
        connection.asyncWriteWithoutTransaction { db in
            self.state.withLock { $0.requested = false }
            // Passive: copies what no reader still needs, waits for nobody; the next request retries the rest.
            _ = try? db.checkpoint(.passive)
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.interval) {
                let again = self.state.withLock { state in
                    state.running = state.requested
                    return state.running
                }
                if again { self.checkpoint() }
            }
        }
    }
}
