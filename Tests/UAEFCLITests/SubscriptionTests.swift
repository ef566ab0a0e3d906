import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// Subscriptions delivered by a real `uaef serve` to a receiver that checks every message with
/// the reference Standard Webhooks library (Tests/Support/webhook_receiver.py).
@Suite("Subscriptions: uaef serve forwards ledger events to webhooks", .serialized)
struct SubscriptionTests {
    let serve = ServeCLITests()

    @Test(
        "a subscribed event reaches the receiver signed, is retried with the same webhook-id after a 503, and shows as delivered; a 410 pauses the subscription until it is resumed"
    )
    func forwardsEvents() async throws {
        let setup = try WebhookSendTests.Setup()
        defer { setup.remove() }
        try """
        connectors:
          - name: notify
            type: webhook
            url: http://127.0.0.1:\(setup.receiver.port)/fail-once
            secrets: [{$secret: hook-secret}]
            subscription: {events: [run.succeeded], filter: 'event.data.workflow == "nap"'}
            retry_schedule: [200ms]
          - name: gone
            type: webhook
            url: http://127.0.0.1:\(setup.receiver.port)/gone
            secrets: [{$secret: hook-secret}]
            subscription: {events: [run.*]}
            max_concurrency: 1
        """.write(toFile: setup.directory.path("subscriptions.yaml"), atomically: true, encoding: .utf8)
        let applied = try UAEFProcess.run(
            ["connectors", "apply", "subscriptions.yaml"] + setup.store, in: setup.directory.url)
        #expect(applied.status == 0, "\(applied.stderr)")
        let (server, port, _) = try await serve.startServer(
            setup.store + ["--allow-network", "127.0.0.1"], in: setup.directory, environment: setup.environment)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(port)"
        _ = try await serve.send(
            .POST, base + "/v1/workflows", token: "-",
            body: "name: nap\ntasks:\n  - id: doze\n    agent: sleep\n    with: {duration: 10ms}\n")
        let started = try await serve.send(.POST, base + "/v1/runs", token: "-", body: #"{"workflow":"nap"}"#)
        let run = try #require(started["run_id"]?.stringValue)

        let deadline = ContinuousClock.now + .seconds(20)
        var notified: [JSONValue] = []
        while notified.count < 2 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            notified = setup.deliveries.filter { $0["path"] == "/fail-once" }
        }
        // Refused once with 503, then delivered: the same message, signed both times.
        #expect(notified.count == 2)
        #expect(notified.allSatisfy { $0["verified"] == true })
        #expect(Set(notified.compactMap { $0["id"]?.stringValue }).count == 1)
        let body = try JSONValue(jsonText: notified.last?["body"]?.stringValue ?? "")
        #expect(body["type"] == "run.succeeded")
        #expect(body["data"]?["subject"]?.stringValue?.hasPrefix(run) == true, "\(body)")
        #expect(notified.first?["id"] == .string("msg_" + (body["data"]?["id"]?.stringValue ?? "")))

        let listed = try UAEFProcess.run(
            ["deliveries", "list", "--connector", "notify", "--json"] + setup.store, in: setup.directory.url
        ).json()
        let delivery = try #require(listed["deliveries"]?.arrayValue?.first)
        #expect(listed["deliveries"]?.arrayValue?.count == 1)
        #expect(delivery["status"] == "delivered" && delivery["attempts"] == 2 && delivery["last_status"] == 200)

        // The 410 receiver got the first run.* event once; the rest wait for a resume.
        let gone = try UAEFProcess.run(
            ["deliveries", "list", "--connector", "gone", "--json"] + setup.store, in: setup.directory.url
        ).json()
        let waiting = gone["deliveries"]?.arrayValue ?? []
        #expect(!waiting.isEmpty && waiting.allSatisfy { $0["status"] == "pending" })
        #expect(setup.deliveries.filter { $0["path"] == "/gone" }.count == 1)
        let resumed = try UAEFProcess.run(
            ["deliveries", "resume", "gone", "--json"] + setup.store, in: setup.directory.url
        ).json()
        #expect(resumed["was_paused"]?.stringValue?.contains("410 Gone") == true)
        let unknown = try UAEFProcess.run(["deliveries", "replay", "nothing"] + setup.store, in: setup.directory.url)
        #expect(unknown.status == 2 && unknown.stderr.contains("no connector nothing"))
    }
}
