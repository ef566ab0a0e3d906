import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

/// Against a real SQS implementation: moto's server with Signature Version 4 checking switched
/// on (Tests/Support/moto_sqs.py), with boto3, the official AWS SDK for Python, as the
/// independent client that reads what UAEF sent and sends what UAEF consumes.
@Suite("SQS connector against moto's SQS server (signatures enforced) and boto3", .serialized)
struct SQSConnectorTests {
    struct Setup {
        let directory: TemporaryDirectory
        let moto: LoopbackHTTPServer
        let endpoint: String
        let accessKey: String
        let secretKey: String
        let queues: [String: String]
        let store: [String]
        let environment: [String: String]

        /// moto running; the store has the master key, the key pair as secrets (plus a wrong
        /// secret key) and the connectors `connectors` (YAML list items, indented by two).
        init(connectors: (Setup) -> String) throws {
            directory = try TemporaryDirectory("sqs")
            moto = try LoopbackHTTPServer(script: "moto_sqs.py", arguments: ["serve"])
            let announced = moto.announcement
            endpoint = announced["endpoint"]?.stringValue ?? ""
            accessKey = announced["access_key_id"]?.stringValue ?? ""
            secretKey = announced["secret_access_key"]?.stringValue ?? ""
            queues = (announced["queues"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            store = ["--store", "sqlite:" + directory.path("u.db")]
            // The process's own AWS variables must not stand in for a connector's keys.
            environment = [
                "UAEF_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString(),
                "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
            ]
            for (name, value) in [("aws-key", accessKey), ("aws-secret", secretKey), ("wrong-secret", "x" + secretKey)]
            {
                try Data(value.utf8).write(to: directory.url.appendingPathComponent(name))
                let set = try UAEFProcess.run(
                    ["secrets", "set", name, "--value-file", name] + store, in: directory.url,
                    environment: environment)
                #expect(set.status == 0, "\(set.stderr)")
            }
            try ("connectors:\n" + connectors(self)).write(
                toFile: directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
            let applied = try UAEFProcess.run(["connectors", "apply", "connectors.yaml"] + store, in: directory.url)
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        /// A connector item for `queue` signed with the `secret` secret.
        func connector(
            _ name: String, queue: String, secret: String = "aws-secret", extra: String = "", endpoint: String? = nil
        ) -> String {
            """
              - name: \(name)
                type: sqs
                queue_url: \(queues[queue] ?? "")
                region: us-east-1
                access_key_id: {$secret: aws-key}
                secret_access_key: {$secret: \(secret)}
            \(endpoint.map { "    endpoint: \($0)\n" } ?? "")\(extra)
            """
        }

        /// Runs a one-task workflow of `task` (indented as a task's keys); the run report.
        func run(_ task: String) throws -> JSONValue {
            try """
            name: publish
            tasks:
              - id: publish
            \(task)
            """.write(toFile: directory.path("publish.yaml"), atomically: true, encoding: .utf8)
            return try UAEFProcess.run(
                ["run", "publish.yaml", "--json"] + store, in: directory.url, environment: environment
            ).json()
        }

        /// `moto_sqs.py COMMAND` on `queue` with boto3; its JSON output.
        func boto(_ command: String, _ queue: String, _ extra: [String] = []) throws -> JSONValue {
            try Self.boto(command, [endpoint, accessKey, secretKey, queues[queue] ?? ""] + extra)
        }

        /// `moto_sqs.py COMMAND ARGUMENTS` (the endpoint, key, secret and queue URL first) with
        /// boto3; its JSON output.
        static func boto(_ command: String, _ arguments: [String]) throws -> JSONValue {
            let process = ChildProcess()
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                ["python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/moto_sqs.py").path, command]
                + arguments
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return try JSONValue(jsonText: String(decoding: data, as: UTF8.self))
        }

        func remove() {
            moto.stop()
            directory.remove()
        }
    }

    @Test(
        "sqs.send puts the body, its attributes and a stable uaef-message-id on the queue, where boto3 reads them; the output names the message"
    )
    func sendToStandardQueue() throws {
        let setup = try Setup { $0.connector("orders", queue: "orders") }
        defer { setup.remove() }
        let report = try setup.run(
            """
                agent: sqs.send
                with: {connector: orders, body: {invoice: INV-7, total: "1250.00"}, attributes: {kind: invoice}}
            """)
        #expect(report["status"] == "succeeded", "\(report)")
        let messages = try #require(try setup.boto("drain", "orders").arrayValue)
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect(
            try JSONValue(jsonText: message["body"]?.stringValue ?? "") == ["invoice": "INV-7", "total": "1250.00"])
        #expect(message["attributes"]?["kind"] == "invoice")
        #expect(message["attributes"]?["uaef-message-id"]?.stringValue?.count == 32)
        #expect(report["tasks"]?["publish"]?["output"]?["message_id"] == message["id"])
    }

    @Test(
        "on a FIFO queue 12 messages go in two batches, in order, grouped by the run and deduplicated by their stable ids"
    )
    func sendBatchToFIFOQueue() throws {
        let setup = try Setup { $0.connector("events", queue: "events.fifo") }
        defer { setup.remove() }
        let messages = (0..<12).map { "{body: \"event \($0)\"}" }.joined(separator: ", ")
        let report = try setup.run(
            """
                agent: sqs.send
                with: {connector: events, messages: [\(messages)]}
            """)
        #expect(report["status"] == "succeeded", "\(report)")
        #expect(report["tasks"]?["publish"]?["output"]?["message_ids"]?.arrayValue?.count == 12)
        let received = try #require(try setup.boto("drain", "events.fifo").arrayValue)
        #expect(received.compactMap { $0["body"]?.stringValue } == (0..<12).map { "event \($0)" })
        let run = report["run_id"]?.stringValue
        #expect(received.allSatisfy { $0["group"]?.stringValue == run })
        #expect(received.allSatisfy { $0["dedup"] != nil && $0["dedup"] == $0["attributes"]?["uaef-message-id"] })
        #expect(Set(received.compactMap { $0["dedup"]?.stringValue }).count == 12)
    }

    @Test(
        "a wrong secret key is SQS's own 403 SignatureDoesNotMatch: the task fails without retrying and its error shows no key"
    )
    func wrongKeyIsRefused() throws {
        let setup = try Setup { $0.connector("orders", queue: "orders", secret: "wrong-secret") }
        defer { setup.remove() }
        let report = try setup.run(
            """
                agent: sqs.send
                retry: {max_attempts: 3, backoff: 10ms}
                with: {connector: orders, body: hello}
            """)
        #expect(report["status"] == "failed")
        let task = report["tasks"]?["publish"]
        #expect(task?["attempts"] == 1)
        let error = task?["error"]?.stringValue ?? ""
        #expect(error.contains("403") && error.contains("SignatureDoesNotMatch"), "\(error)")
        #expect(!error.contains(setup.secretKey) && !error.contains(setup.accessKey), "\(error)")
        #expect(try setup.boto("count", "orders")["visible"] == 0)
    }

    @Test(
        "uaef connectors test reads the queue's attributes with the connector's keys: exit 0 when they work, 1 with SQS's reason when not"
    )
    func connectorTest() throws {
        let setup = try Setup {
            $0.connector("orders", queue: "orders") + $0.connector("bad", queue: "orders", secret: "wrong-secret")
        }
        defer { setup.remove() }
        let good = try UAEFProcess.run(
            ["connectors", "test", "orders", "--json"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try good.json()["ok"] == true)
        #expect(try good.json()["detail"]?.stringValue?.contains("queue orders: 0 messages visible") == true)
        let bad = try UAEFProcess.run(
            ["connectors", "test", "bad"] + setup.store, in: setup.directory.url, environment: setup.environment)
        #expect(bad.status == 1)
        #expect(
            bad.stdout.contains("bad (sqs): failed") && bad.stdout.contains("SignatureDoesNotMatch"), "\(bad.stdout)")
        #expect(!bad.stdout.contains(setup.secretKey))
    }

    @Test("a connector without keys of its own cannot borrow the environment's unless the process lends them")
    func noBorrowedCredentials() throws {
        let setup = try Setup { setup in
            """
              - name: orders
                type: sqs
                queue_url: \(setup.queues["orders"] ?? "")
                region: us-east-1
            """
        }
        defer { setup.remove() }
        // The one-user CLI lends the environment's credentials; here they are empty.
        let report = try setup.run(
            """
                agent: sqs.send
                with: {connector: orders, body: hello}
            """)
        #expect(report["tasks"]?["publish"]?["error"]?.stringValue?.contains("--allow-environment-credentials") == true)
    }
}

/// `uaef serve` as a process consuming SQS connectors with triggers.
@Suite("SQS consumer in uaef serve and uaef worker, against moto's SQS server", .serialized)
struct SQSConsumerTests {
    typealias Setup = SQSConnectorTests.Setup
    let serve = ServeCLITests()

    /// The workflow a message starts: one task echoing the message.
    static let workflow = """
        name: intake
        inputs: {order: {}}
        tasks:
          - id: take
            agent: echo
            with: {order: "${{ inputs.order }}"}
        """

    /// A setup whose connector `intake` (on `queue`, through `endpoint` when given) starts `intake`.
    static func setup(queue: String = "intake", endpoint: String? = nil) throws -> Setup {
        try Setup { setup in
            setup.connector(
                "intake", queue: queue, extra: "    trigger: {workflow: intake, input: order}\n    wait_time: 1s\n",
                endpoint: endpoint)
        }
    }

    /// Starts `uaef serve` on the setup's store, allowed to reach loopback; registers `intake`.
    func start(_ setup: Setup) async throws -> (ChildProcess, String) {
        let (process, port, _) = try await serve.startServer(
            setup.store + ["--allow-network", "127.0.0.1"], in: setup.directory, environment: setup.environment)
        let base = "http://127.0.0.1:\(port)"
        _ = try await serve.send(.POST, base + "/v1/workflows", token: "-", body: Self.workflow)
        return (process, base)
    }

    /// The store's runs of `intake`, once `until` holds for them (20 s at most).
    func runs(_ setup: Setup, until done: ([RunRecord]) -> Bool) async throws -> [RunRecord] {
        let store = try SQLiteStore(path: setup.directory.path("u.db"))
        let deadline = ContinuousClock.now + .seconds(20)
        var runs = try await store.runs(tenant: "default", matching: RunFilter(), limit: 100)
        while !done(runs) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            runs = try await store.runs(tenant: "default", matching: RunFilter(), limit: 100)
        }
        return runs
    }

    func stop(_ process: ChildProcess) {
        process.terminate()
        process.waitUntilExit()
    }

    @Test(
        "a queue connector with no trigger of its own is consumed for a workflow whose triggers: name it; a message its filter declines is deleted and starts nothing"
    )
    func workflowTriggersConsumeQueues() async throws {
        let setup = try Setup { setup in setup.connector("intake", queue: "intake", extra: "    wait_time: 1s\n") }
        defer { setup.remove() }
        let (process, port, _) = try await serve.startServer(
            setup.store + ["--allow-network", "127.0.0.1"], in: setup.directory, environment: setup.environment)
        defer { stop(process) }
        let workflow = Self.workflow.replacingOccurrences(
            of: "tasks:",
            with: "triggers:\n  - {connector: intake, input: order, filter: message.order != \"skip\"}\ntasks:")
        let registered = try await serve.send(
            .POST, "http://127.0.0.1:\(port)/v1/workflows", token: "-", body: workflow)
        #expect(registered["version"] == 1, "\(registered)")
        _ = try setup.boto("send", "intake", [#"{"order": "skip"}"#])
        _ = try setup.boto("send", "intake", [#"{"order": "C-3"}"#])
        let runs = try await runs(setup) { runs in runs.count >= 1 && runs.allSatisfy { $0.status == .succeeded } }
        #expect(runs.map { $0.inputs["order"]?["order"]?.stringValue } == ["C-3"])
        var count = try setup.boto("count", "intake")
        let deadline = ContinuousClock.now + .seconds(10)
        while count != ["visible": 0, "in_flight": 0] && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            count = try setup.boto("count", "intake")
        }
        #expect(count == ["visible": 0, "in_flight": 0], "the declined message is deleted too")
        #expect(try await self.runs(setup) { _ in true }.count == 1)
    }

    @Test(
        "uaef worker --connectors consumes a queue connector for a workflow's triggers; the run it starts is claimed and executed by a worker"
    )
    func workerConsumes() async throws {
        let setup = try Setup { setup in setup.connector("intake", queue: "intake", extra: "    wait_time: 1s\n") }
        defer { setup.remove() }
        let engine = Engine(
            store: try SQLiteStore(path: setup.directory.path("u.db")), kinds: BuiltInAgents.registry,
            sections: [TriggersSection()], logger: Logger(label: "test"))
        let workflow = Self.workflow.replacingOccurrences(
            of: "tasks:", with: "triggers:\n  - {connector: intake, input: order}\ntasks:")
        _ = try await engine.register(workflow, origin: "intake.yaml", actor: "test")
        let (worker, _, errors) = try UAEFProcess.start(
            ["worker", "--connectors", "--allow-network", "127.0.0.1"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        defer {
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
        }
        _ = try setup.boto("send", "intake", [#"{"order": "W-1"}"#])
        let runs = try await runs(setup) { runs in runs.count == 1 && runs.allSatisfy { $0.status == .succeeded } }
        #expect(
            runs.map { "\($0.status) \($0.inputs["order"]?["order"]?.stringValue ?? "")" } == ["succeeded W-1"],
            "\((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
    }

    @Test(
        "each message starts one run with its body as input and is then deleted; a message sent twice under one uaef-message-id starts one run"
    )
    func messagesStartRuns() async throws {
        let setup = try Self.setup()
        defer { setup.remove() }
        let (server, base) = try await start(setup)
        defer { stop(server) }
        _ = try setup.boto("send", "intake", [#"{"order": "A-1"}"#])
        _ = try setup.boto("send", "intake", [#"{"order": "B-2"}"#, #"{"uaef-message-id": "order-b"}"#])
        _ = try setup.boto("send", "intake", [#"{"order": "B-2"}"#, #"{"uaef-message-id": "order-b"}"#])
        let runs = try await runs(setup) { runs in runs.count >= 2 && runs.allSatisfy { $0.status == .succeeded } }
        #expect(runs.count == 2)
        #expect(Set(runs.compactMap { $0.inputs["order"]?["order"]?.stringValue }) == ["A-1", "B-2"])
        #expect(runs.allSatisfy { $0.status == .succeeded })
        // Deleted once the runs were durable: nothing visible, nothing in flight.
        var count = try setup.boto("count", "intake")
        let deadline = ContinuousClock.now + .seconds(10)
        while count != ["visible": 0, "in_flight": 0] && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            count = try setup.boto("count", "intake")
        }
        #expect(count == ["visible": 0, "in_flight": 0])
        // Still exactly two runs after the duplicate was consumed.
        #expect(try await self.runs(setup) { _ in true }.count == 2)
        // Counted per connector on /metrics.
        let metrics = try await HTTPClient.shared.get(url: base + "/metrics").get()
        let text = metrics.body.map { String(buffer: $0) } ?? ""
        let processed = text.split(separator: "\n").first {
            $0.hasPrefix("uaef_connector_messages_total") && $0.contains(#"connector="intake""#)
                && $0.contains(#"event="processed""#)
        }
        #expect(processed?.hasSuffix(" 3") == true, "\(text.prefix(2000))")
    }

    @Test(
        "a consumer killed (SIGKILL) after its run was created but before the message was deleted starts no second run when the message comes back"
    )
    func crashBetweenRunAndDelete() async throws {
        // The connector talks to moto through a proxy that, while told to, never answers DeleteMessageBatch.
        let control = try TemporaryDirectory("proxy")
        defer { control.remove() }
        let setup = try Setup { setup in
            setup.connector(
                "intake", queue: "intake", extra: "    trigger: {workflow: intake, input: order}\n    wait_time: 1s\n")
        }
        defer { setup.remove() }
        let proxy = try LoopbackHTTPServer(
            script: "holding_proxy.py", arguments: [String(setup.moto.port), control.url.path])
        defer { proxy.stop() }
        try """
        connectors:
        \(setup.connector("intake", queue: "intake", extra: "    trigger: {workflow: intake, input: order}\n    wait_time: 1s\n    visibility_timeout: 2s\n", endpoint: "http://127.0.0.1:\(proxy.port)/"))
        """.write(toFile: setup.directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
        let applied = try UAEFProcess.run(
            ["connectors", "apply", "connectors.yaml"] + setup.store, in: setup.directory.url)
        #expect(applied.status == 0, "\(applied.stderr)")
        FileManager.default.createFile(atPath: control.path("hold-deletes"), contents: Data())

        let (first, _) = try await start(setup)
        _ = try setup.boto("send", "intake", [#"{"order": "C-3"}"#])
        // Given the run is durable and the delete is on its way, when the consumer dies:
        let created = try await runs(setup) { $0.count == 1 }
        #expect(created.count == 1)
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: control.path("held")) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: control.path("held")))
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        try FileManager.default.removeItem(atPath: control.path("hold-deletes"))

        // Then the message comes back when its visibility ends, and the next server takes it:
        let (second, _) = try await start(setup)
        defer { stop(second) }
        var count = try setup.boto("count", "intake")
        let drained = ContinuousClock.now + .seconds(20)
        while count != ["visible": 0, "in_flight": 0] && ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(200))
            count = try setup.boto("count", "intake")
        }
        #expect(count == ["visible": 0, "in_flight": 0])
        let runs = try await runs(setup) { $0.first?.status == .succeeded }
        #expect(runs.count == 1)
        #expect(runs.first?.status == .succeeded)
    }

    @Test(
        "a message whose trigger fails stays on the queue, comes back, and goes to the dead-letter queue after the redrive policy's 3 receives"
    )
    func failedMessagesAreRedriven() async throws {
        // A signal's data must be an object: a text body cannot be dispatched.
        let setup = try Setup { setup in
            setup.connector(
                "intake", queue: "intake",
                extra: "    trigger: {signal: order-received}\n    wait_time: 1s\n    visibility_timeout: 1s\n")
        }
        defer { setup.remove() }
        let (server, _) = try await start(setup)
        defer { stop(server) }
        _ = try setup.boto("send", "intake", ["not an object"])
        var dead = try setup.boto("count", "intake-dlq")
        let deadline = ContinuousClock.now + .seconds(30)
        while dead["visible"] != 1 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(300))
            dead = try setup.boto("count", "intake-dlq")
        }
        #expect(dead["visible"] == 1)
        #expect(try setup.boto("count", "intake") == ["visible": 0, "in_flight": 0])
    }
}
