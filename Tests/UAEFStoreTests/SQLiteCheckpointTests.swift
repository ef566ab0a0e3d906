import Foundation
import GRDB
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@testable import UAEFStoreSQLite

/// SQLite's automatic checkpoint is off on the store's connections (it ran inside commits); the
/// store's own checkpointer must still copy committed pages into the database file.
@Suite("SQLite checkpoints beside the writer")
struct SQLiteCheckpointTests {
    @Test("committed events reach the database file while the store stays open, and the log stops growing")
    func checkpointsAfterCommits() async throws {
        let location = try TestStore(.sqlite, label: "checkpoints")
        defer { location.remove() }
        let path = String(location.url.dropFirst("sqlite:".count))
        let store = try await location.open()
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0
        }
        /// Commits 500 events of about 400 bytes.
        func commitBatch(_ batch: Int) async throws {
            var changes = ChangeSet()
            changes.events = (0..<500).map { index in
                EventDraft(
                    id: "evt_\(batch)_\(index)", time: Date(), type: "test.event", actor: "test", tenant: "default",
                    subject: "s", data: ["text": .string(String(repeating: "x", count: 200))])
            }
            try await store.commit(changes)
        }
        let before = size(path)
        for batch in 0..<20 { try await commitBatch(batch) }
        // 10,000 events of about 400 bytes: some 4 MB that only a checkpoint moves into the file.
        let deadline = ContinuousClock.now + .seconds(10)
        while size(path) < before + 3_000_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(size(path) >= before + 3_000_000, "the database file holds the committed pages")
        // The log is reused from its start once checkpointed, so more commits do not grow it without bound.
        let logSize = size(path + "-wal")
        for batch in 20..<40 {
            try await commitBatch(batch)
            try await Task.sleep(for: .milliseconds(30))
        }
        #expect(size(path + "-wal") < logSize + 3_000_000, "the log was reused, not only appended to")
        #expect(try await store.treeHead().size == 20_000)
    }

    @Test("light traffic is copied within the quiet delay by one checkpoint, not by one after each commit")
    func lightTrafficWaits() async throws {
        let location = try TestStore(.sqlite, label: "light-checkpoints")
        defer { location.remove() }
        let path = String(location.url.dropFirst("sqlite:".count))
        let store = try SQLiteStore(path: path)
        // What opening wrote is copied first (within the quiet delay).
        let settled = ContinuousClock.now + .seconds(10)
        while store.checkpointer.checkpoints == 0, ContinuousClock.now < settled {
            try await Task.sleep(for: .milliseconds(20))
        }
        let before = store.checkpointer.checkpoints
        #expect(before >= 1, "opening's writes were checkpointed")
        let started = ContinuousClock.now
        for index in 0..<10 {
            var changes = ChangeSet()
            changes.events = [
                EventDraft(
                    id: "evt_light_\(index)", time: Date(), type: "test.event", actor: "test", tenant: "default",
                    subject: "s", data: [:])
            ]
            try await store.commit(changes)
            try await Task.sleep(for: .milliseconds(20))
        }
        // Ten commits 20 ms apart, a few pages each: at most one checkpoint a second (none unless
        // the commits took over a second), where one after each commit would make ten.
        let burst = ContinuousClock.now - started
        #expect(store.checkpointer.checkpoints - before <= Int(burst / .seconds(1)))
        let deadline = ContinuousClock.now + .seconds(10)
        while store.checkpointer.checkpoints == before, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(store.checkpointer.checkpoints > before, "the waiting commits were checkpointed")
    }

    @Test("the writer fsyncs every commit (synchronous = FULL), though GRDB sets NORMAL when it turns WAL on")
    func writerSyncsEveryCommit() async throws {
        let location = try TestStore(.sqlite, label: "synchronous")
        defer { location.remove() }
        let store = try SQLiteStore(path: String(location.url.dropFirst("sqlite:".count)))
        let mode = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(mode == 2, "PRAGMA synchronous on the writer: 2 is FULL, 1 is NORMAL")
        let journal = try await store.pool.write { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }
}
