import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("webhook.send against a receiver that verifies with the reference Standard Webhooks library")
struct WebhookSendTests {
    /// A store with the master key, the signing secret and a webhook connector per receiver path.
    struct Setup {
        let directory: TemporaryDirectory
        let receiver: LoopbackHTTPServer
        let log: String
        let store: [String]
        let environment: [String: String]

        init() throws {
            directory = try TemporaryDirectory("webhooks")
            let secret = "whsec_" + Data((0..<32).map { UInt8($0 &* 7 &+ 3) }).base64EncodedString()
            log = directory.path("deliveries.jsonl")
            receiver = try LoopbackHTTPServer(script: "webhook_receiver.py", arguments: [secret, log])
            store = ["--store", "sqlite:" + directory.path("u.db")]
            environment = ["UAEF_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString()]
            try Data(secret.utf8).write(to: directory.url.appendingPathComponent("secret"))
            let set = try UAEFProcess.run(
                ["secrets", "set", "hook-secret", "--value-file", "secret"] + store, in: directory.url,
                environment: environment)
            #expect(set.status == 0, "\(set.stderr)")
            let connectors = ["ok", "fail-once", "gone", "moved", "slow"].map { path in
                """
                  - name: \(path)
                    type: webhook
                    url: http://127.0.0.1:\(receiver.port)/\(path)
                    secrets: [{$secret: hook-secret}]
                    timeout: 1s
                """
            }
            try ("connectors:\n" + connectors.joined(separator: "\n")).write(
                toFile: directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
            let applied = try UAEFProcess.run(["connectors", "apply", "connectors.yaml"] + store, in: directory.url)
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        /// Runs a one-task workflow sending to `connector`; the run report.
        func send(to connector: String, retries: Int = 1) throws -> JSONValue {
            try """
            name: notify
            tasks:
              - id: tell
                agent: webhook.send
                retry: {max_attempts: \(retries), backoff: 10ms}
                with: {connector: \(connector), type: invoice.approved, data: {invoice: INV-7, total: "1250.00"}}
            """.write(toFile: directory.path("notify.yaml"), atomically: true, encoding: .utf8)
            return try UAEFProcess.run(
                ["run", "notify.yaml", "--json"] + store, in: directory.url, environment: environment
            ).json()
        }

        var deliveries: [JSONValue] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONValue(jsonText: String($0))
            }
        }

        func remove() {
            receiver.stop()
            directory.remove()
        }
    }

    @Test("a delivery carries {type, timestamp, data} and a signature the reference library verifies")
    func verifiedDelivery() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let report = try setup.send(to: "ok")
        #expect(report["status"] == "succeeded", "\(report)")
        let delivery = try #require(setup.deliveries.first)
        #expect(delivery["verified"] == true)
        let body = try JSONValue(jsonText: delivery["body"]?.stringValue ?? "")
        #expect(body["type"] == "invoice.approved" && body["data"]?["invoice"] == "INV-7")
        #expect(body["timestamp"]?.stringValue?.hasSuffix("Z") == true)
        #expect(report["tasks"]?["tell"]?["output"]?["webhook_id"] == delivery["id"])
    }

    @Test("a retried delivery keeps its webhook-id, so the receiver can drop the duplicate")
    func retryKeepsID() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let report = try setup.send(to: "fail-once", retries: 2)
        #expect(report["status"] == "succeeded", "\(report)")
        let deliveries = setup.deliveries
        #expect(deliveries.count == 2 && deliveries.allSatisfy { $0["verified"] == true })
        #expect(deliveries.map { $0["id"] }.count == 2 && deliveries[0]["id"] == deliveries[1]["id"])
    }

    @Test("a secret whose value holds a line break cannot add a header to a delivery")
    func headerInjection() throws {
        let setup = try Setup()
        defer { setup.remove() }
        try Data("k\r\nX-Injected: 1".utf8).write(to: setup.directory.url.appendingPathComponent("evil"))
        let set = try UAEFProcess.run(
            ["secrets", "set", "evil", "--value-file", "evil"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        #expect(set.status == 0, "\(set.stderr)")
        try """
        connectors:
          - name: ok
            type: webhook
            url: http://127.0.0.1:\(setup.receiver.port)/ok
            secrets: [{$secret: hook-secret}]
            headers: {X-Api-Key: {$secret: evil}}
        """.write(toFile: setup.directory.path("evil.yaml"), atomically: true, encoding: .utf8)
        #expect(
            try UAEFProcess.run(["connectors", "apply", "evil.yaml"] + setup.store, in: setup.directory.url).status == 0
        )
        let report = try setup.send(to: "ok")
        #expect(report["status"] == "failed")
        #expect(report["tasks"]?["tell"]?["error"]?.stringValue?.contains("line break") == true, "\(report)")
        #expect(setup.deliveries.isEmpty, "nothing reached the receiver")
    }

    @Test("a receiver slower than the connector's timeout fails the attempt")
    func timeout() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let started = Date()
        let slow = try setup.send(to: "slow")
        #expect(slow["status"] == "failed", "\(slow)")
        #expect(Date().timeIntervalSince(started) < 4.5, "gave up at the 1 s timeout, not after the receiver's 5 s")
    }

    @Test("410 Gone fails without retrying; a redirect fails and is not followed")
    func goneAndRedirect() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let gone = try setup.send(to: "gone", retries: 3)
        #expect(gone["status"] == "failed")
        #expect(gone["tasks"]?["tell"]?["error"]?.stringValue?.contains("410 (Gone") == true, "\(gone)")
        #expect(setup.deliveries.count == 1)
        let moved = try setup.send(to: "moved")
        #expect(moved["status"] == "failed")
        #expect(moved["tasks"]?["tell"]?["error"]?.stringValue?.contains("does not follow") == true, "\(moved)")
        #expect(setup.deliveries.map { $0["path"] } == ["/gone", "/moved"], "the redirect to /ok was not followed")
    }
}
