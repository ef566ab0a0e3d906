import Foundation
import Synchronization
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Work notifications (PostgreSQL LISTEN/NOTIFY; SQLite polls)")
struct WorkNotificationTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func run(_ id: String, owner: String?) -> RunRecord {
        RunRecord(
            id: RunID(id), tenant: "default", workflowName: "w", workflowVersion: 1, workflowSource: "name: w",
            workflowFile: "w.yaml", inputs: [:], status: .pending, createdAt: now, updatedAt: now, owner: owner,
            leaseExpiresAt: owner.map { _ in now.addingTimeInterval(60) })
    }

    /// Counts notifications from one consuming task (cancelling a consumer would end the stream).
    final class Counter: Sendable {
        private final class Count: Sendable {
            let value = Mutex(0)
        }

        private let count = Count()
        private let consumer: Task<Void, Never>

        init(_ notifications: AsyncStream<Void>) {
            let count = count
            consumer = Task { for await _ in notifications { count.value.withLock { $0 += 1 } } }
        }

        deinit { consumer.cancel() }

        var value: Int { count.value.withLock { $0 } }

        /// Whether the count grows past `seen` within `limit`.
        func grows(past seen: Int, within limit: Duration) async -> Bool {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if value > seen { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return value > seen
        }
    }

    @Test(
        "another process's submitted run, released lease or queued worker attempt notifies; a leased run does not")
    func postgresNotifies() async throws {
        let location = try TestStore(.postgres)
        defer { location.remove() }
        let listening = try await location.open()
        let other = try await location.open()
        let counter = Counter(try #require(listening.workNotifications()))
        // One notification says listening started (work committed before it went unheard).
        #expect(await counter.grows(past: 0, within: .seconds(5)))

        var leased = ChangeSet()
        leased.runs = [run("run_leased", owner: "host/1")]
        try await other.commit(leased)
        #expect(
            await !counter.grows(past: 1, within: .milliseconds(300)), "a run created with its lease is nobody's work")

        var submitted = ChangeSet()
        submitted.runs = [run("run_submitted", owner: nil)]
        try await other.commit(submitted)
        #expect(await counter.grows(past: 1, within: .seconds(5)))

        let beforeRelease = counter.value
        try await other.releaseLeases(LeaseFence(owner: "host/1", generations: [RunID("run_leased"): 0]))
        #expect(await counter.grows(past: beforeRelease, within: .seconds(5)))

        let beforeQueue = counter.value
        _ = try await other.enqueueRemoteTask(
            RemoteTaskRecord(
                id: "rtk_1", tenant: "default", placement: .worker, agentID: AgentID("agt_1"), kind: "command",
                runID: RunID("run_submitted"), workflow: "w", key: "t", capability: "gpu", attempt: 1,
                idempotencyKey: "run_submitted/t/1", input: [:], createdAt: now, updatedAt: now))
        #expect(await counter.grows(past: beforeQueue, within: .seconds(5)))
    }

    @Test("SQLite has no cross-process notifications: its workers poll")
    func sqlitePolls() async throws {
        let location = try TestStore(.sqlite)
        defer { location.remove() }
        #expect(try await location.open().workNotifications() == nil)
    }
}
