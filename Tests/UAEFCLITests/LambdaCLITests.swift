import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// `uaef lambda` as a process (and as `bootstrap`) against `uaef dev lambda-runtime` and a real
/// PostgreSQL: API Gateway events answered by the API, a scheduled event executing and settling
/// what the API started, a deadline that expires mid-run, and an init error.
@Suite("uaef lambda: the bootstrap against the fake Runtime API", .serialized)
struct LambdaCLITests {
    /// A directory with a PostgreSQL store, a token secret and a ledger key.
    struct Setup {
        let directory: TemporaryDirectory
        let store: String
        let options: [String]
        let token: String

        init() throws {
            directory = try TemporaryDirectory("lambda")
            store = try PostgresTestServer.shared().makeDatabase()
            try Data("a-shared-secret-for-this-test-of-48-bytes-long!!".utf8).write(
                to: directory.url.appendingPathComponent("secret"))
            options = [
                "--store", store, "--token-secret-file", "secret", "--ledger-key", directory.path("ledger.key"),
            ]
            #expect(try UAEFProcess.run(["migrate", "--store", store], in: directory.url).status == 0)
            let key = try UAEFProcess.run(
                ["ledger", "key", "--store", store, "--ledger-key", directory.path("ledger.key")], in: directory.url)
            #expect(key.status == 0, "\(key.stderr)")
            let issued = try UAEFProcess.run(
                [
                    "tokens", "issue", "--sub", "ci", "--tenant", "acme", "--roles", "operator", "--ttl", "10m",
                    "--json", "--token-secret-file", "secret",
                ], in: directory.url)
            token = try #require(try issued.json()["token"]?.stringValue, "\(issued.stderr)")
        }
    }

    /// A fake Runtime API process and its port.
    func startRuntime(_ setup: Setup) async throws -> (ChildProcess, Int) {
        let (process, stdout, _) = try UAEFProcess.start(
            ["dev", "lambda-runtime", "--port", "0", "--json"], in: setup.directory.url)
        // Generous: the whole suite starts processes at once on two cores.
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
            if text.hasSuffix("\n"), let port = try? JSONValue(jsonText: text)["port"]?.numberValue?.intValue {
                return (process, port)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CLIFailure("uaef dev lambda-runtime did not start")
    }

    struct CLIFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Invokes the function behind the fake at `port` with `event`; the answer and whether it is
    /// a function error.
    func invoke(_ event: JSONValue, port: Int, timeout: Int = 60_000) async throws -> (JSONValue, failed: Bool) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/invoke?timeout_ms=\(timeout)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: event.jsonText))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 8 << 20)
        return (
            (try? JSONValue(jsonText: String(buffer: body))) ?? .null,
            response.headers.first(name: "X-Amz-Function-Error") != nil
        )
    }

    /// Registers the one-task workflow `hello` and starts a run of it through API Gateway events
    /// to the api function whose runtime listens on `port`; the run's id.
    func startHello(port: Int, token: String) async throws -> String {
        let workflow = "name: hello\ntasks:\n  - id: greet\n    agent: echo\n    with: {message: hi}\n"
        let registered = try await invoke(
            Self.apiEvent("POST", "/v1/workflows", token: token, body: workflow), port: port)
        #expect(Self.body(registered.0)["version"] == 1, "\(registered)")
        let started = try await invoke(
            Self.apiEvent("POST", "/v1/runs", token: token, body: #"{"workflow": "hello"}"#), port: port)
        return try #require(Self.body(started.0)["run_id"]?.stringValue, "\(started)")
    }

    /// An API Gateway HTTP API event (the no-authorizer fixture's shape) for `method` `path`.
    static func apiEvent(
        _ method: String, _ path: String, token: String?, body: String? = nil, headers more: [String: String] = [:]
    ) -> JSONValue {
        var headers: [String: JSONValue] = ["accept": "*/*", "user-agent": "curl/7.58.0"]
        if let token { headers["authorization"] = .string("Bearer \(token)") }
        for (name, value) in more { headers[name] = .string(value) }
        var event: [String: JSONValue] = [
            "version": "2.0", "routeKey": "$default", "rawPath": .string(path), "rawQueryString": "",
            "headers": .object(headers),
            "requestContext": [
                "accountId": "123456789012", "apiId": "aaaaaaaaaa", "requestId": "LV7fzho-PHcEJPw=",
                "http": [
                    "method": .string(method), "path": .string(path), "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4",
                    "userAgent": "curl/7.58.0",
                ],
            ],
            "isBase64Encoded": false,
        ]
        if let body { event["body"] = .string(body) }
        return .object(event)
    }

    static func scheduledEvent() throws -> JSONValue {
        try JSONValue(
            jsonText: String(
                contentsOf: Fixtures.packageRoot.appendingPathComponent(
                    "Tests/Support/lambda-events/eventbridge-scheduled.json"), encoding: .utf8))
    }

    /// The JSON body of an API answer.
    static func body(_ answer: JSONValue) -> JSONValue {
        (answer["body"]?.stringValue).flatMap { try? JSONValue(jsonText: $0) } ?? .null
    }

    @Test(
        "api: health, a 401 without a token, a workflow and a run created through API Gateway events; scheduled (as bootstrap): a due schedule fired, its run and the API's executed and settled, in the trace Lambda's X-Ray header started"
    )
    func apiThenScheduled() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let collector = try OTLPCollector()
        defer { collector.stop() }
        let tracing = ["OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"]
        let (apiRuntime, apiPort) = try await startRuntime(setup)
        let (function, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "api"] + setup.options, in: setup.directory.url,
            environment: tracing.merging(
                ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(apiPort)", "AWS_LAMBDA_FUNCTION_NAME": "uaef-api"]) { $1 })
        defer {
            for process in [function, apiRuntime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let health = try await invoke(Self.apiEvent("GET", "/healthz", token: nil), port: apiPort)
        #expect(
            health.0["statusCode"] == 200 && Self.body(health.0)["status"] == "ok",
            "\(health) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let anonymous = try await invoke(Self.apiEvent("GET", "/v1/runs", token: nil), port: apiPort)
        #expect(anonymous.0["statusCode"] == 401)
        #expect(anonymous.0["headers"]?["content-type"]?.stringValue?.hasPrefix("application/problem+json") == true)
        let run = try await startHello(port: apiPort, token: setup.token)
        let pending = try await invoke(Self.apiEvent("GET", "/v1/runs/\(run)", token: setup.token), port: apiPort)
        #expect(Self.body(pending.0)["status"] == "pending", "the api handler executes nothing: \(pending)")
        // A schedule whose slot has come: the scheduled slot fires it and executes its run. Its
        // next slot is a leap day's midnight, so the slot below delivered again fires nothing.
        let schedule = try await invoke(
            Self.apiEvent(
                "POST", "/v1/schedules", token: setup.token,
                body: "schedules:\n  - {name: leap-hello, workflow: hello, cron: \"0 0 29 2 *\"}\n"), port: apiPort)
        #expect(schedule.0["statusCode"] == 201, "\(schedule)")
        _ = try PostgresTestServer.shared().query(
            "UPDATE schedules SET next_at = \(Timestamp.milliseconds(Date()) - 1_000) WHERE name = 'leap-hello'",
            in: setup.store)

        // The scheduled function, started as a Lambda runtime starts it: a binary named bootstrap.
        let bootstrap = setup.directory.path("bootstrap")
        try FileManager.default.createSymbolicLink(atPath: bootstrap, withDestinationPath: Fixtures.binary.path)
        let (scheduledRuntime, scheduledPort) = try await startRuntime(setup)
        let scheduled = ChildProcess()
        scheduled.executableURL = URL(fileURLWithPath: bootstrap)
        scheduled.arguments = setup.options
        scheduled.currentDirectoryURL = setup.directory.url
        scheduled.environment = ProcessInfo.processInfo.environment.merging(tracing) { $1 }.merging([
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(scheduledPort)", "_HANDLER": "scheduled",
        ]) { $1 }
        try scheduled.run()
        defer {
            for process in [scheduled, scheduledRuntime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let (upkeep, failed) = try await invoke(try Self.scheduledEvent(), port: scheduledPort)
        #expect(!failed, "\(upkeep)")
        #expect(upkeep["slot"] == "2016-12-30T18:44:49Z" && upkeep["runs_resumed"] == 2, "\(upkeep)")
        #expect(upkeep["schedules_fired"] == 1, "\(upkeep)")
        let fired = try PostgresTestServer.shared().query(
            "SELECT r.status FROM schedules s JOIN runs r ON r.id = s.last_run WHERE s.name = 'leap-hello'",
            in: setup.store)
        #expect(fired == "succeeded", "the schedule's run executed in the same slot: \(fired)")
        #expect((upkeep["tree_size"]?.numberValue?.intValue ?? 0) > 0)
        #expect((upkeep["analytics_events_counted"]?.numberValue?.intValue ?? 0) > 0, "the slot counts analytics")
        let done = try await invoke(Self.apiEvent("GET", "/v1/runs/\(run)", token: setup.token), port: apiPort)
        #expect(Self.body(done.0)["status"] == "succeeded", "\(done)")
        // The same slot again (EventBridge delivers at least once) finds nothing more to do.
        let again = try await invoke(try Self.scheduledEvent(), port: scheduledPort)
        #expect(
            again.0["runs_resumed"] == 0 && again.0["schedules_fired"] == 0
                && again.0["tree_size"] == upkeep["tree_size"], "\(again)")
        #expect(again.0["analytics_events_counted"] == 0, "nothing is counted twice")

        // Every invocation is a span under the X-Ray header's parent (the fake's header:
        // Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419). The run, executed by
        // the scheduled function, is a child of the API request that created it in the other one.
        let spans = try await collector.spans(of: "5bef4de7ad49b0e87f6ef6c87fc2e700") { spans in
            spans.contains { $0.name == "run hello" }
        }
        let invocations = spans.filter { $0.parent == "9a9197af755a6419" && $0.kind == "SPAN_KIND_SERVER" }
        #expect(invocations.contains { $0.name == "uaef-api" && $0.attribute("faas.invocation_id") != nil }, "\(spans)")
        let creation = try #require(
            spans.first { span in
                span.name == "/v1/runs" && span.attribute("http.request.method") == "POST"
                    && invocations.contains { $0.id == span.parent }
            },
            "\(spans)")
        let runSpan = try #require(spans.first("run hello", parent: creation.id), "\(spans)")
        #expect(runSpan.attribute("uaef.run.id")?.stringValue == run)
        #expect(runSpan.attribute("uaef.run.status") == "succeeded")
    }

    @Test("scheduled: a deadline mid-run stops the handler and leaves the run resumable; the next slot finishes it")
    func deadlineMidRun() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        try
            "name: nap\ntasks:\n  - id: doze\n    agent: sleep\n    with: {duration: 3s}\n    retry: {max_attempts: 2, backoff: 10ms}\n"
            .write(
                toFile: setup.directory.path("nap.yaml"), atomically: true, encoding: .utf8)
        let submitted = try UAEFProcess.run(
            ["submit", "nap.yaml", "--tenant", "acme", "--store", setup.store], in: setup.directory.url)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let (runtime, port) = try await startRuntime(setup)
        let (function, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "scheduled", "--lease", "2s"] + setup.options, in: setup.directory.url,
            environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"])
        defer {
            for process in [function, runtime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let (stopped, failed) = try await invoke(try Self.scheduledEvent(), port: port, timeout: 1_500)
        #expect(
            failed && stopped["errorType"] == "Runtime.DeadlineReached",
            "\(stopped) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let status = try PostgresTestServer.shared().query(
            "SELECT status FROM runs WHERE id = '\(run)'", in: setup.store)
        // Running when the handler had claimed it before the deadline, pending when a loaded
        // machine stopped it sooner: either way resumable, never failed.
        #expect(status == "running" || status == "pending", "left resumable, not failed: \(status)")
        // Once the stopped attempt's lease has expired, the next slot takes the run over.
        try await Task.sleep(for: .seconds(2.5))
        let (upkeep, _) = try await invoke(try Self.scheduledEvent(), port: port)
        #expect(upkeep["runs_resumed"] == 1, "\(upkeep)")
        #expect(
            try PostgresTestServer.shared().query("SELECT status FROM runs WHERE id = '\(run)'", in: setup.store)
                == "succeeded")
    }

    @Test(
        "queue: an SQS batch with one poisoned message answers that message's id only; the good one's run succeeds, once even when delivered again"
    )
    func queueBatch() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        try "name: hello\ntasks:\n  - id: greet\n    agent: echo\n    with: {message: hi}\n".write(
            toFile: setup.directory.path("hello.yaml"), atomically: true, encoding: .utf8)
        let registered = try UAEFProcess.run(
            ["workflows", "register", "hello.yaml", "--tenant", "acme", "--store", setup.store],
            in: setup.directory.url)
        #expect(registered.status == 0, "\(registered.stderr)")
        let (runtime, port) = try await startRuntime(setup)
        let (function, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "queue"] + setup.options, in: setup.directory.url,
            environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"])
        defer {
            for process in [function, runtime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let batch = try JSONValue(
            jsonText: String(
                contentsOf: Fixtures.packageRoot.appendingPathComponent("Tests/Support/lambda-events/sqs-batch.json"),
                encoding: .utf8))
        for _ in 0..<2 {
            let (answer, failed) = try await invoke(batch, port: port)
            #expect(
                !failed && answer == ["batchItemFailures": [["itemIdentifier": "MessageID_2"]]],
                "\(answer) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        }
        let runs = try PostgresTestServer.shared().query(
            "SELECT string_agg(status, ',') FROM runs WHERE tenant = 'acme'", in: setup.store)
        #expect(runs == "succeeded", "one run for the message, however often it comes")
    }

    /// An SQS batch event of one message with `body`.
    static func sqsEvent(_ body: JSONValue) -> JSONValue {
        [
            "Records": [
                [
                    "messageId": "m-1", "receiptHandle": "r-1", "body": .string(body.jsonText),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uaef-work", "awsRegion": "us-east-1",
                ]
            ]
        ]
    }

    @Test(
        "queue: attempts.execute runs the attempt a worker serving other capabilities queued, and its run finishes; deliveries.send forwards the subscribed run.succeeded, signed, once"
    )
    func queueWorkerMessages() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let subscription = try Subscription(setup)
        defer { subscription.receiver.stop() }
        let environment = subscription.environment
        let acme = ["--tenant", "acme", "--store", setup.store]
        try "agents:\n  - {name: gpu-box, kind: sleep, capabilities: [gpu], max_concurrency: 2, activate: true}\n"
            .write(toFile: setup.directory.path("agents.yaml"), atomically: true, encoding: .utf8)
        try "name: ocr\ntasks:\n  - id: read\n    capability: gpu\n    with: {duration: 10ms}\n".write(
            toFile: setup.directory.path("ocr.yaml"), atomically: true, encoding: .utf8)
        let registered = try UAEFProcess.run(
            ["agents", "register", "--file", "agents.yaml"] + acme, in: setup.directory.url)
        #expect(registered.status == 0, "\(registered.stderr)")
        // The run's orchestrator serves cpu only: the gpu attempt is queued for a worker.
        let (orchestrator, _, orchestratorErrors) = try UAEFProcess.start(
            ["worker", "--capability", "cpu", "--ledger-key", setup.directory.path("ledger.key")] + acme,
            in: setup.directory.url)
        defer { kill(orchestrator.processIdentifier, SIGKILL) }
        let submitted = try UAEFProcess.run(["submit", "ocr.yaml"] + acme, in: setup.directory.url)
        let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline,
            try PostgresTestServer.shared().query(
                "SELECT count(*) FROM remote_tasks WHERE status = 'queued'", in: setup.store) != "1"
        {
            try await Task.sleep(for: .milliseconds(50))
        }

        let (runtime, port) = try await startRuntime(setup)
        let (function, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "queue", "--allow-network", "127.0.0.1"] + setup.options, in: setup.directory.url,
            environment: environment.merging(["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"]) { $1 })
        defer {
            for process in [function, runtime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let executed = try await invoke(
            Self.sqsEvent(["type": "attempts.execute", "tenant": "acme", "capabilities": ["gpu"]]), port: port)
        #expect(
            !executed.failed && executed.0 == ["batchItemFailures": []],
            "\(executed) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let waited = try UAEFProcess.run(
            ["runs", "wait", run, "--timeout", "60s", "--json"] + acme, in: setup.directory.url)
        #expect(
            try waited.json()["status"] == "succeeded",
            "\(waited.stdout) \((try? String(contentsOf: orchestratorErrors, encoding: .utf8)) ?? "")")

        // Nothing delivers the subscription until a message asks; then the event goes out once.
        #expect(subscription.received().isEmpty)
        for _ in 0..<2 {
            let sent = try await invoke(Self.sqsEvent(["type": "deliveries.send", "tenant": "acme"]), port: port)
            #expect(!sent.failed && sent.0 == ["batchItemFailures": []], "\(sent)")
        }
        subscription.expectOneRunSucceeded()
    }

    @Test(
        "scheduled: a slot forwards what subscriptions have due, the run.succeeded of the run it executed among them, signed, once however often the slot comes"
    )
    func scheduledDeliveries() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let subscription = try Subscription(setup)
        defer { subscription.receiver.stop() }
        try "name: hello\ntasks:\n  - id: greet\n    agent: echo\n    with: {message: hi}\n".write(
            toFile: setup.directory.path("hello.yaml"), atomically: true, encoding: .utf8)
        let submitted = try UAEFProcess.run(
            ["submit", "hello.yaml", "--tenant", "acme", "--store", setup.store], in: setup.directory.url)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let (runtime, port) = try await startRuntime(setup)
        let (function, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "scheduled", "--allow-network", "127.0.0.1"] + setup.options,
            in: setup.directory.url,
            environment: subscription.environment.merging(["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"]) { $1 })
        defer {
            for process in [function, runtime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let (upkeep, failed) = try await invoke(try Self.scheduledEvent(), port: port)
        #expect(
            !failed && upkeep["runs_resumed"] == 1 && upkeep["deliveries_attempted"] == 1,
            "\(upkeep) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let again = try await invoke(try Self.scheduledEvent(), port: port)
        #expect(again.0["deliveries_attempted"] == 0, "\(again)")
        subscription.expectOneRunSucceeded()
    }

    /// Tenant acme's webhook connector `notify`, subscribed to `run.succeeded`, posting to a
    /// receiver that checks each delivery's signature and records it.
    struct Subscription {
        let receiver: LoopbackHTTPServer
        /// Where the receiver records what it got, a JSON object a line.
        let log: String
        /// What a process reading the connector's secret needs.
        let environment = ["UAEF_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString()]

        init(_ setup: Setup) throws {
            let secret = "whsec_" + Data((0..<32).map { UInt8($0 &* 7 &+ 3) }).base64EncodedString()
            log = setup.directory.path("deliveries.jsonl")
            receiver = try LoopbackHTTPServer(script: "webhook_receiver.py", arguments: [secret, log])
            try Data(secret.utf8).write(to: setup.directory.url.appendingPathComponent("hook-secret"))
            try """
            connectors:
              - name: notify
                type: webhook
                url: http://127.0.0.1:\(receiver.port)/ok
                secrets: [{$secret: hook-secret}]
                subscription: {events: [run.succeeded]}
            """.write(toFile: setup.directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
            for command in [
                ["secrets", "set", "hook-secret", "--value-file", "hook-secret"],
                ["connectors", "apply", "connectors.yaml"],
            ] {
                let done = try UAEFProcess.run(
                    command + ["--tenant", "acme", "--store", setup.store], in: setup.directory.url,
                    environment: environment)
                #expect(done.status == 0, "\(command): \(done.stderr)")
            }
        }

        /// The deliveries received so far.
        func received() -> [JSONValue] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONValue(jsonText: String($0)) }
        }

        /// Expects one delivery, a signed `run.succeeded`.
        func expectOneRunSucceeded() {
            let received = received()
            #expect(received.count == 1 && received.first?["verified"] == true, "\(received)")
            #expect(
                (try? JSONValue(jsonText: received.first?["body"]?.stringValue ?? ""))?["type"] == "run.succeeded",
                "\(received)")
        }
    }

    @Test(
        "api with UAEF_WORK_QUEUE_URL: a new run, from POST /v1/runs or from a signed webhook, is announced on the work queue (moto, signed), and the queue function executes it once however often the message comes"
    )
    func announcedRuns() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        // A webhook connector starting `hello`, its secret sealed under the function's master key.
        let masterKey = Data((0..<32).map { UInt8($0 &+ 7) }).base64EncodedString()
        let hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try hookSecret.write(toFile: setup.directory.path("hook-secret"), atomically: true, encoding: .utf8)
        try "connectors:\n  - {name: orders, type: webhook, secrets: [{$secret: hook}], trigger: {workflow: hello}}\n"
            .write(toFile: setup.directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
        for arguments in [
            ["secrets", "set", "hook", "--value-file", "hook-secret"], ["connectors", "apply", "connectors.yaml"],
        ] {
            let done = try UAEFProcess.run(
                arguments + ["--store", setup.store, "--tenant", "acme"], in: setup.directory.url,
                environment: ["UAEF_MASTER_KEY": masterKey])
            #expect(done.status == 0, "\(done.stderr)")
        }
        let moto = try LoopbackHTTPServer(script: "moto_sqs.py", arguments: ["serve"])
        defer { moto.stop() }
        let endpoint = moto.announcement["endpoint"]?.stringValue ?? ""
        let (key, secret) = (
            moto.announcement["access_key_id"]?.stringValue ?? "",
            moto.announcement["secret_access_key"]?.stringValue ?? ""
        )
        let queue = moto.announcement["queues"]?["orders"]?.stringValue ?? ""
        let (apiRuntime, apiPort) = try await startRuntime(setup)
        let (api, _, errors) = try UAEFProcess.start(
            ["lambda", "--handler", "api"] + setup.options, in: setup.directory.url,
            environment: [
                "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(apiPort)", "UAEF_WORK_QUEUE_URL": queue,
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SQS": endpoint, "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret, "UAEF_MASTER_KEY": masterKey,
            ])
        let (queueRuntime, queuePort) = try await startRuntime(setup)
        let (worker, _, _) = try UAEFProcess.start(
            ["lambda", "--handler", "queue"] + setup.options, in: setup.directory.url,
            environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(queuePort)"])
        defer {
            for process in [api, apiRuntime, worker, queueRuntime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let workflow =
            "name: hello\ninputs: {message: {}}\ntasks:\n  - id: greet\n    agent: echo\n    with: {message: hi}\n"
        _ = try await invoke(Self.apiEvent("POST", "/v1/workflows", token: setup.token, body: workflow), port: apiPort)
        let started = try await invoke(
            Self.apiEvent("POST", "/v1/runs", token: setup.token, body: #"{"workflow": "hello"}"#), port: apiPort)
        let run = try #require(
            Self.body(started.0)["run_id"]?.stringValue,
            "\(started) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let body = #"{"type": "order.created", "timestamp": "2026-12-04T00:00:00Z", "data": {"order": 7}}"#
        try body.write(toFile: setup.directory.path("hook.json"), atomically: true, encoding: .utf8)
        let timestamp = "\(Int64(Date().timeIntervalSince1970))"
        // Signed by the reference Standard Webhooks library.
        let signing = ChildProcess()
        signing.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        signing.arguments = [
            "python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/standard_webhooks_interop.py").path,
            "sign", hookSecret, "msg_lambda_1", timestamp, setup.directory.path("hook.json"),
        ]
        let signed = Pipe()
        signing.standardOutput = signed
        try signing.run()
        let signature = String(decoding: signed.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        signing.waitUntilExit()
        let hook = Self.apiEvent(
            "POST", "/v1/hooks/acme/orders", token: nil, body: body,
            headers: ["webhook-id": "msg_lambda_1", "webhook-timestamp": timestamp, "webhook-signature": signature])
        let hooked = try await invoke(hook, port: apiPort)
        let hookRun = try #require(
            Self.body(hooked.0)["run_id"]?.stringValue,
            "\(hooked) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let announced = try SQSConnectorTests.Setup.boto("drain", [endpoint, key, secret, queue]).arrayValue ?? []
        let messages = try announced.map { try JSONValue(jsonText: $0["body"]?.stringValue ?? "") }
        #expect(
            messages.count == 2
                && Set(messages.map(\.jsonText))
                    == Set(
                        [run, hookRun].map {
                            (["type": "run.execute", "tenant": "acme", "run_id": .string($0)] as JSONValue).jsonText
                        }),
            "\(announced) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        for message in messages {
            for _ in 0..<2 {
                let (answer, failed) = try await invoke(Self.sqsEvent(message), port: queuePort)
                #expect(!failed && answer == ["batchItemFailures": []], "\(answer)")
            }
        }
        for id in [run, hookRun] {
            let done = try await invoke(Self.apiEvent("GET", "/v1/runs/\(id)", token: setup.token), port: apiPort)
            #expect(Self.body(done.0)["status"] == "succeeded", "\(done)")
            #expect(
                try PostgresTestServer.shared().query(
                    "SELECT count(*) FROM events WHERE type = 'run.succeeded' AND subject = '\(id)'", in: setup.store)
                    == "1")
        }
    }

    @Test(
        "with UAEF_CONFIG_SECRET the store, token secret and ledger key come from Secrets Manager (moto, signatures and IAM enforced); a wrong secret key is an init error naming the refusal"
    )
    func configSecret() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let secret: JSONValue = [
            "store": .string(setup.store),
            "token_secret": "a-shared-secret-for-this-test-of-48-bytes-long!!",
            "ledger_key": .string(
                try String(contentsOfFile: setup.directory.path("ledger.key"), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)),
        ]
        try secret.jsonText.write(toFile: setup.directory.path("config.json"), atomically: true, encoding: .utf8)
        let moto = try LoopbackHTTPServer(
            script: "moto_secrets.py", arguments: ["serve", setup.directory.path("config.json")])
        defer { moto.stop() }
        let (runtime, port) = try await startRuntime(setup)
        defer {
            runtime.terminate()
            runtime.waitUntilExit()
        }
        var environment = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)", "_HANDLER": "api", "AWS_REGION": "us-east-1",
            "UAEF_CONFIG_SECRET": moto.announcement["arn"]?.stringValue ?? "",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.announcement["endpoint"]?.stringValue ?? "",
            "AWS_ACCESS_KEY_ID": moto.announcement["access_key_id"]?.stringValue ?? "",
            "AWS_SECRET_ACCESS_KEY": "not-the-secret",
        ]
        // A wrong secret key: moto refuses the signature, and the function says why it cannot start.
        let (refused, _, refusal) = try UAEFProcess.start(["lambda"], in: setup.directory.url, environment: environment)
        let deadline = ContinuousClock.now + .seconds(30)
        while refused.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if refused.isRunning { refused.terminate() }
        refused.waitUntilExit()
        let stderr = (try? String(contentsOf: refusal, encoding: .utf8)) ?? ""
        #expect(refused.terminationStatus == 3, "\(stderr)")
        #expect(
            stderr.contains("UAEF_CONFIG_SECRET: GetSecretValue") && stderr.contains("SignatureDoesNotMatch"),
            "\(stderr)")
        environment["AWS_SECRET_ACCESS_KEY"] = moto.announcement["secret_access_key"]?.stringValue ?? ""
        let (function, _, errors) = try UAEFProcess.start(["lambda"], in: setup.directory.url, environment: environment)
        defer {
            function.terminate()
            function.waitUntilExit()
        }
        let listed = try await invoke(Self.apiEvent("GET", "/v1/runs", token: setup.token), port: port)
        #expect(
            listed.0["statusCode"] == 200 && Self.body(listed.0)["runs"] == [],
            "\(listed) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
    }

    @Test("a function that cannot start reports an init error to the Runtime API and exits 3")
    func initError() async throws {
        let setup = try Setup()
        defer { setup.directory.remove() }
        let (runtime, port) = try await startRuntime(setup)
        defer {
            runtime.terminate()
            runtime.waitUntilExit()
        }
        // No token secret: the api handler refuses to answer the internet unauthenticated.
        let result = try UAEFProcess.run(
            ["lambda", "--handler", "api", "--store", setup.store, "--ledger-key", setup.directory.path("ledger.key")],
            in: setup.directory.url, environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("token secret"))
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/$fake/init-error"), timeout: .seconds(5))
        let report = try JSONValue(jsonText: String(buffer: try await response.body.collect(upTo: 1 << 16)))
        #expect(report["errorType"] == "Runtime.InitError")
        #expect(report["errorMessage"]?.stringValue?.contains("token secret") == true)
        let outside = try UAEFProcess.run(["lambda", "--handler", "api"], in: setup.directory.url)
        #expect(outside.status == 2 && outside.stderr.contains("AWS_LAMBDA_RUNTIME_API"))
    }

    /// The folder `scripts/package-lambda` wrote, which `scripts/test` names after the rest of
    /// the suite has passed (the package is a release build of its own).
    static let package = ProcessInfo.processInfo.environment["UAEF_LAMBDA_PACKAGE"].map(URL.init(fileURLWithPath:))

    @Test(
        "the package of scripts/package-lambda: bootstrap.zip holds the executable bootstrap, which, run as Lambda runs it, answers API Gateway events on PostgreSQL",
        .enabled(if: package != nil, "scripts/test sets UAEF_LAMBDA_PACKAGE once it has built the package"))
    func packagedBootstrap() async throws {
        let package = try #require(Self.package)
        let bootstrap = package.appendingPathComponent("bootstrap")
        // The zip's one entry: `bootstrap`, executable, the size of the binary beside it.
        let listing = try await ExternalProcess.run(
            [
                "python3", "-c",
                "import sys, zipfile; [print(i.filename, oct(i.external_attr >> 16 & 0o777), i.file_size) for i in zipfile.ZipFile(sys.argv[1]).infolist()]",
                package.appendingPathComponent("bootstrap.zip").path,
            ], withErrors: true)
        let size = try FileManager.default.attributesOfItem(atPath: bootstrap.path)[.size] as? Int
        #expect(listing.status == 0 && listing.output == "bootstrap 0o755 \(size ?? -1)\n", "\(listing)")

        let setup = try Setup()
        defer { setup.directory.remove() }
        let (runtime, port) = try await startRuntime(setup)
        // No arguments: Lambda starts the bootstrap bare, configured by the function's environment.
        let function = ChildProcess()
        function.executableURL = bootstrap
        function.arguments = []
        function.currentDirectoryURL = setup.directory.url
        function.environment = ProcessInfo.processInfo.environment.merging([
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)", "_HANDLER": "api", "UAEF_STORE": setup.store,
            "UAEF_TOKEN_SECRET": try String(
                contentsOf: setup.directory.url.appendingPathComponent("secret"), encoding: .utf8),
            "UAEF_LEDGER_KEY": setup.directory.path("ledger.key"),
        ]) { $1 }
        try function.run()
        defer {
            for process in [function, runtime] where process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let run = try await startHello(port: port, token: setup.token)
        let shown = try await invoke(Self.apiEvent("GET", "/v1/runs/\(run)", token: setup.token), port: port)
        #expect(shown.0["statusCode"] == 200 && Self.body(shown.0)["workflow"] == "hello", "\(shown)")
    }
}
