import Foundation
import Logging
import Synchronization
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@testable import UAEFConnectors

/// A delivery channel that answers from a script (by attempt number) and records what it was
/// given: it stands for the receiver so the outbox's bookkeeping can be pinned down here; the
/// real webhook and SQS channels are proven end to end in the server and CLI tests.
final class ScriptedChannel: DeliveryChannel {
    let answer: @Sendable (String, Int) -> DeliveryOutcome
    let sent = Mutex<[String]>([])

    init(answer: @escaping @Sendable (String, Int) -> DeliveryOutcome) { self.answer = answer }

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        let id = delivery.id
        let attempt = sent.withLock { sent in
            sent.append(id)
            return sent.filter { $0 == id }.count
        }
        return answer(id, attempt)
    }

    func close() async {}
}

@Suite("Subscriptions' outbox, on SQLite and PostgreSQL")
struct SubscriberTests {
    static let connectors = """
        connectors:
          - name: erp
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}]
            subscription: {events: [run.*, settlement.posted], filter: 'event.data.total == null || event.data.total > 100'}
            retry_schedule: [10ms, 10ms]
        """

    /// Appends events of `types` (with `data`) to the tenant's log.
    static func append(_ store: any WorkflowStore, _ events: [(String, [String: JSONValue])], tenant: String = "acme")
        async throws
    {
        var random = SystemRandomNumberGenerator()
        let drafts = events.map { type, data in
            EventDraft(
                id: "evt_" + SortableID.make(at: Date(), using: &random), time: Date(), type: type, actor: "test",
                tenant: tenant, subject: "run_x", data: data)
        }
        try await store.saveConnectors([], events: drafts)
    }

    @Test(
        "events after the connector's creation that match are enqueued once as the cursor moves; a claimed delivery is not claimed again; a stale cursor writes nothing",
        arguments: StoreBackend.allCases)
    func outbox(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "outbox")
        defer { location.remove() }
        let store = try await location.open()
        try await Self.append(store, [("run.succeeded", [:])])  // before the subscription: not forwarded
        _ = try await ConnectorRegistry(store: store, tenant: "acme").apply(
            Self.connectors, file: "c.yaml", actor: "test")
        try await Self.append(
            store,
            [
                ("run.succeeded", [:]), ("task.succeeded", [:]), ("settlement.posted", ["total": 50]),
                ("settlement.posted", ["total": 500]), ("run.failed", [:]),
            ])
        try await Self.append(store, [("run.succeeded", [:])], tenant: "other")
        let record = try #require(try await store.connector(named: "erp", tenant: "acme"))
        let subscriber = try #require(Subscriber(store: store, record: record))
        let now = Date()
        let first = try await subscriber.enqueue(now: now)
        #expect(first.enqueued == 3 && !first.paused)
        #expect(try await subscriber.enqueue(now: now).enqueued == 0)
        let pending = try await store.deliveries(tenant: "acme", connector: "erp", status: nil, before: nil, limit: 10)
        #expect(pending.map(\.eventType) == ["run.failed", "settlement.posted", "run.succeeded"])
        #expect(pending.allSatisfy { $0.status == .pending && $0.id.hasPrefix("msg_evt_") })
        #expect(
            try await store.enqueueDeliveries(pending, tenant: "acme", connector: "erp", from: 0, next: 99) == false)

        let claimed = try await store.claimDeliveries(
            tenant: "acme", connector: "erp", now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
        #expect(claimed.count == 3)
        #expect(
            try await store.claimDeliveries(
                tenant: "acme", connector: "erp", now: now, leaseUntil: now.addingTimeInterval(60), limit: 10
            ).isEmpty)
        // Once the claim ends (its holder died), another process may take the deliveries.
        let later = now.addingTimeInterval(61)
        #expect(
            try await store.claimDeliveries(
                tenant: "acme", connector: "erp", now: later, leaseUntil: later.addingTimeInterval(60), limit: 10
            ).count == 3)
    }

    @Test(
        "a failed delivery is tried again on the schedule with the same id, is dead after the last attempt, and a replay gives it fresh attempts; 410 pauses the subscription; replaying, pausing and resuming are ledger events",
        arguments: StoreBackend.allCases)
    func attempts(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "attempts")
        defer { location.remove() }
        let store = try await location.open()
        _ = try await ConnectorRegistry(store: store, tenant: "acme").apply(
            Self.connectors, file: "c.yaml", actor: "test")
        try await Self.append(store, [("run.succeeded", [:]), ("run.failed", [:])])
        let record = try #require(try await store.connector(named: "erp", tenant: "acme"))
        let subscriber = try #require(Subscriber(store: store, record: record))
        _ = try await subscriber.enqueue(now: Date())
        let all = try await store.deliveries(tenant: "acme", connector: "erp", status: nil, before: nil, limit: 10)
        let succeeding = try #require(all.first { $0.eventType == "run.succeeded" }).id
        // run.succeeded: fails once, then is delivered; run.failed: always fails.
        let channel = ScriptedChannel { id, attempt in
            id == succeeding && attempt > 1
                ? .delivered(status: 200) : .failed(status: 503, error: "unavailable", retryAfter: nil)
        }
        let logger = Logger(label: "test")
        var attempted = 0
        for _ in 0..<40 {
            attempted += try await subscriber.deliverDue(through: channel, now: Date(), logger: logger)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(attempted == 5)
        let after = try await store.deliveries(tenant: "acme", connector: "erp", status: nil, before: nil, limit: 10)
        let delivered = try #require(after.first { $0.id == succeeding })
        #expect(delivered.status == .delivered && delivered.attempts == 2 && delivered.lastStatus == 200)
        let dead = try #require(after.first { $0.id != succeeding })
        #expect(dead.status == .dead && dead.attempts == 3 && dead.lastError == "unavailable")
        #expect(channel.sent.withLock { $0 }.filter { $0 == dead.id }.count == 3)

        let registry = ConnectorRegistry(store: store, tenant: "acme")
        #expect(try await registry.replayDeliveries("erp", ids: [dead.id], actor: "ops") == [dead.id])
        #expect(try await registry.replayDeliveries("erp", ids: nil, actor: "ops") == [])
        await #expect(throws: DeliveriesError.noConnector("nope", tenant: "acme")) {
            try await registry.replayDeliveries("nope", ids: nil, actor: "ops")
        }
        let gone = ScriptedChannel { _, _ in .gone(status: 410, error: "Gone") }
        #expect(try await subscriber.deliverDue(through: gone, now: Date(), logger: logger) == 1)
        let paused = try await store.subscriptionCursor(tenant: "acme", connector: "erp")
        #expect(paused.pausedReason?.contains("410 Gone") == true)
        #expect(try await subscriber.enqueue(now: Date()).paused)
        let kept = try await store.deliveries(
            tenant: "acme", connector: "erp", status: .pending, before: nil, limit: 10)
        #expect(kept.map(\.id) == [dead.id])
        #expect(try await registry.resumeSubscription("erp", actor: "ops")?.contains("410 Gone") == true)
        #expect(try await registry.resumeSubscription("erp", actor: "ops") == nil, "not paused: no change, no event")
        #expect(try await subscriber.enqueue(now: Date()).paused == false)
        let audit = try await store.events(from: 0, limit: 100).filter { $0.event.subject == "connector/erp" }
        #expect(
            audit.map { "\($0.event.type) \($0.event.actor)" } == [
                "connector.saved test", "deliveries.replayed ops", "subscription.paused subscriber",
                "subscription.resumed ops",
            ])
        #expect(audit[1].event.data == ["count": 1, "ids": [.string(dead.id)]])
    }

    @Test(
        "the retry schedule is the Standard Webhooks one, jittered by at most a fifth, and honours a longer Retry-After"
    )
    func schedule() {
        var random = SystemRandomNumberGenerator()
        let schedule = RetrySchedule.standardWebhooks
        let now = Date(timeIntervalSince1970: 0)
        #expect(schedule.maximumAttempts == 10)
        for (attempt, seconds) in [(1, 5.0), (2, 300), (3, 1_800), (4, 7_200), (9, 86_400)] {
            let next = schedule.nextAttempt(after: attempt, at: now, retryAfter: nil, using: &random)
            let wait = try? #require(next).timeIntervalSince(now)
            #expect(
                wait.map { $0 >= seconds * 0.8 && $0 <= seconds * 1.2 } == true, "attempt \(attempt): \(wait ?? -1)")
        }
        #expect(schedule.nextAttempt(after: 10, at: now, retryAfter: nil, using: &random) == nil)
        let asked = schedule.nextAttempt(after: 1, at: now, retryAfter: .seconds(120), using: &random)
        #expect(asked == now.addingTimeInterval(120))
    }
}
