import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

/// Against Tests/Support/servicebus_fake.py: a Service Bus written from the REST API reference
/// (there is no emulator that speaks REST), which checks shared access signatures the way the
/// service does and is fed by tokens made as the Azure SDK for Python makes them.
@Suite("Service Bus connector against a fake written from the REST reference", .serialized)
struct ServiceBusConnectorTests {
    static let keyName = "RootManageSharedAccessKey"
    static let key = "c2VydmljZS1idXMtdGVzdC1rZXktZm9yLXVhZWYtdGVzdHM="

    struct Setup {
        let directory: TemporaryDirectory
        let fake: LoopbackHTTPServer
        let endpoint: String
        let store: [String]
        let environment: [String: String]

        init(connectors: (String) -> String) throws {
            directory = try TemporaryDirectory("servicebus")
            fake = try LoopbackHTTPServer(
                script: "servicebus_fake.py",
                arguments: ["serve", ServiceBusConnectorTests.keyName, ServiceBusConnectorTests.key])
            endpoint = fake.announcement["endpoint"]?.stringValue ?? ""
            store = ["--store", "sqlite:" + directory.path("u.db")]
            environment = ["UAEF_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString()]
            for (name, value) in [
                ("sb-key", ServiceBusConnectorTests.key), ("wrong-key", "x" + ServiceBusConnectorTests.key),
            ] {
                try Data(value.utf8).write(to: directory.url.appendingPathComponent(name))
                let set = try UAEFProcess.run(
                    ["secrets", "set", name, "--value-file", name] + store, in: directory.url, environment: environment)
                #expect(set.status == 0, "\(set.stderr)")
            }
            try ("connectors:\n" + connectors(endpoint)).write(
                toFile: directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
            let applied = try UAEFProcess.run(["connectors", "apply", "connectors.yaml"] + store, in: directory.url)
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        /// A connector item for `entity` signed with the secret `key`.
        static func connector(
            _ name: String, entity: String, endpoint: String, key: String = "sb-key", extra: String = ""
        )
            -> String
        {
            """
              - name: \(name)
                type: servicebus
                namespace: test
                entity: \(entity)
                endpoint: \(endpoint)
                sas_key_name: \(ServiceBusConnectorTests.keyName)
                sas_key: {$secret: \(key)}
            \(extra)
            """
        }

        func run(_ task: String) throws -> JSONValue {
            try "name: publish\ntasks:\n  - id: publish\n\(task)\n".write(
                toFile: directory.path("publish.yaml"), atomically: true, encoding: .utf8)
            return try UAEFProcess.run(
                ["run", "publish.yaml", "--json"] + store, in: directory.url, environment: environment
            ).json()
        }

        /// The fake's view of `entity`: active, dead-lettered and completed messages.
        func view(_ entity: String) async throws -> JSONValue {
            try await ServeCLITests().send(.GET, endpoint + "/$fake/" + entity, token: "-")
        }

        /// Sends a message with a token made the Azure SDK for Python's way.
        func sendAsSDK(_ entity: String, _ body: String, properties: String = "{}") throws {
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/servicebus_fake.py").path, "send",
                endpoint, entity, ServiceBusConnectorTests.keyName, ServiceBusConnectorTests.key, body, properties,
            ]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }

        func remove() {
            fake.stop()
            directory.remove()
        }
    }

    @Test(
        "servicebus.send signs with a SAS the service accepts; MessageId and uaef-message-id are the task's stable id; custom properties arrive; a batch is one request"
    )
    func send() async throws {
        let setup = try Setup { Setup.connector("orders", entity: "orders", endpoint: $0) }
        defer { setup.remove() }
        let single = try setup.run(
            """
                agent: servicebus.send
                with: {connector: orders, body: {invoice: INV-9}, properties: {kind: invoice}}
            """)
        #expect(single["status"] == "succeeded", "\(single)")
        let batch = try setup.run(
            """
                agent: servicebus.send
                with: {connector: orders, messages: [{body: one}, {body: two}, {body: three, properties: {n: 3}}]}
            """)
        #expect(batch["status"] == "succeeded", "\(batch)")
        let active = try await setup.view("orders")["active"]?.arrayValue ?? []
        #expect(active.count == 4)
        let first = try #require(active.first)
        #expect(try JSONValue(jsonText: first["body"]?.stringValue ?? "") == ["invoice": "INV-9"])
        #expect(first["properties"]?["kind"] == "invoice")
        #expect(first["id"] == first["properties"]?["uaef-message-id"])
        #expect(single["tasks"]?["publish"]?["output"]?["message_id"] == first["id"])
        #expect(active.dropFirst().compactMap { $0["body"]?.stringValue } == ["one", "two", "three"])
        #expect(active.last?["properties"]?["n"] == "3")
        let tested = try UAEFProcess.run(
            ["connectors", "test", "orders"] + setup.store, in: setup.directory.url, environment: setup.environment)
        #expect(tested.status == 0 && tested.stdout.contains("orders (servicebus): ok"), "\(tested.stdout)")
    }

    @Test("a wrong key is a 401 that fails the task without retrying and shows no key; a missing entity is named")
    func refusals() async throws {
        let setup = try Setup { endpoint in
            Setup.connector("bad", entity: "orders", endpoint: endpoint, key: "wrong-key")
                + Setup.connector("missing", entity: "nowhere", endpoint: endpoint)
        }
        defer { setup.remove() }
        let refused = try setup.run(
            """
                agent: servicebus.send
                retry: {max_attempts: 3, backoff: 10ms}
                with: {connector: bad, body: hello}
            """)
        let error = refused["tasks"]?["publish"]?["error"]?.stringValue ?? ""
        #expect(refused["tasks"]?["publish"]?["attempts"] == 1)
        #expect(error.contains("401") && error.contains("InvalidSignature"), "\(error)")
        #expect(!error.contains(Self.key), "\(error)")
        let missing = try setup.run(
            """
                agent: servicebus.send
                with: {connector: missing, body: hello}
            """)
        #expect(missing["tasks"]?["publish"]?["error"]?.stringValue?.contains("entity does not exist") == true)
        #expect(try await setup.view("orders")["active"]?.arrayValue?.isEmpty == true)
        let tested = try UAEFProcess.run(
            ["connectors", "test", "bad", "--json"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        #expect(try tested.status == 1 && tested.json()["detail"]?.stringValue?.contains("401") == true)
    }

    @Test(
        "uaef serve consumes a Service Bus entity: a message starts one run and is completed; one whose trigger fails is unlocked, redelivered and dead-lettered after the maximum delivery count"
    )
    func consume() async throws {
        let setup = try Setup { endpoint in
            Setup.connector(
                "intake", entity: "intake", endpoint: endpoint,
                extra: "    trigger: {workflow: intake, input: order}\n    wait_time: 1s\n    lock_renewal: 1s\n")
                + Setup.connector(
                    "signals", entity: "orders", endpoint: endpoint,
                    extra: "    trigger: {signal: order-received}\n    wait_time: 1s\n")
        }
        defer { setup.remove() }
        let serve = ServeCLITests()
        let (server, port, _) = try await serve.startServer(
            setup.store + ["--allow-network", "127.0.0.1"], in: setup.directory, environment: setup.environment)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        _ = try await serve.send(
            .POST, "http://127.0.0.1:\(port)/v1/workflows", token: "-", body: SQSConsumerTests.workflow)
        try setup.sendAsSDK("intake", #"{"order": "D-4"}"#)
        var view = try await setup.view("intake")
        let deadline = ContinuousClock.now + .seconds(20)
        while view["completed"]?.arrayValue?.count != 1 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            view = try await setup.view("intake")
        }
        #expect(view["completed"]?.arrayValue?.count == 1)
        let store = try SQLiteStore(path: setup.directory.path("u.db"))
        let runs = try await store.runs(tenant: "default", matching: RunFilter(), limit: 10)
        #expect(runs.count == 1 && runs.first?.inputs["order"]?["order"] == "D-4")

        // A signal needs an object: a text message fails its trigger, is unlocked each time and dead-lettered.
        try setup.sendAsSDK("orders", "not an object")
        let dead = ContinuousClock.now + .seconds(30)
        while view["deadletter"]?.arrayValue?.count != 1 && ContinuousClock.now < dead {
            try await Task.sleep(for: .milliseconds(300))
            view = try await setup.view("orders")
        }
        #expect(view["deadletter"]?.arrayValue?.first?["delivery_count"] == 3)
        #expect(try await store.runs(tenant: "default", matching: RunFilter(), limit: 10).count == 1)
    }
}
