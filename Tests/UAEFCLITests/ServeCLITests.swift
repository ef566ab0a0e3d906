import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore
import UAEFStoreSQLite
import UAEFTestSupport

@Suite("uaef serve and uaef tokens as processes")
struct ServeCLITests {
    /// Starts `uaef serve --port 0 --json` and returns it with the port it printed.
    func startServer(_ arguments: [String], in directory: TemporaryDirectory, environment: [String: String] = [:])
        async throws -> (ChildProcess, Int, URL)
    {
        let (process, stdout, stderr) = try UAEFProcess.start(
            ["serve", "--port", "0", "--json"] + arguments, in: directory.url, environment: environment)
        let deadline = ContinuousClock.now + .seconds(20)
        // The file is read once more after every wait, so a test process too busy to wake this
        // task in time still finds a port printed meanwhile.
        while true {
            if let line = (try? String(contentsOf: stdout, encoding: .utf8))?.split(separator: "\n").first,
                let port = (try? JSONValue(jsonText: String(line)))?.objectValue?["port"]?.numberValue?.intValue
            {
                return (process, port, stderr)
            }
            guard process.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        Issue.record("uaef serve did not report a port: \(errors)")
        throw CancellationError()
    }

    func send(
        _ method: HTTPMethod, _ url: String, token: String, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> JSONValue {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        return try JSONValue(jsonText: buffer.readString(length: buffer.readableBytes) ?? "")
    }

    /// Polls the run until `done` holds (40 s at most) and returns its last JSON.
    func waitForRun(_ url: String, token: String, until done: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = ContinuousClock.now + .seconds(40)
        var last = try await send(.GET, url, token: token)
        while !done(last) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            last = try await send(.GET, url, token: token)
        }
        return last
    }

    @Test(
        "a token from uaef tokens issue works against uaef serve; SIGTERM stops the server at once and the next server finishes its run"
    )
    func serveStopAndResume() async throws {
        let directory = try TemporaryDirectory("serve")
        defer { directory.remove() }
        try Data("a-shared-secret-for-this-test-of-48-bytes-long!!".utf8).write(
            to: directory.url.appendingPathComponent("secret"))
        let store = "sqlite:" + directory.path("uaef.db")
        let options = ["--store", store, "--token-secret-file", "secret"]
        let issued = try UAEFProcess.run(
            ["tokens", "issue", "--sub", "ci", "--tenant", "acme", "--roles", "operator", "--ttl", "10m", "--json"]
                + options.suffix(2), in: directory.url)
        #expect(issued.status == 0, "\(issued.stderr)")
        let token = try #require(try issued.json().objectValue?["token"]?.stringValue)

        let (first, port, _) = try await startServer(options, in: directory)
        let base = "http://127.0.0.1:\(port)"
        let workflow = """
            name: nap
            tasks:
              - id: doze
                agent: sleep
                # Long enough that a loaded machine still stops the server mid-task.
                with: {duration: 12s}
                retry: {max_attempts: 2, backoff: 10ms}
            """
        #expect(
            try await send(.POST, base + "/v1/workflows", token: token, body: workflow).objectValue?["version"] == 1)
        let run = try #require(
            try await send(.POST, base + "/v1/runs", token: token, body: #"{"workflow":"nap"}"#).objectValue?["run_id"]?
                .stringValue)
        let running = try await waitForRun(base + "/v1/runs/\(run)", token: token) { report in
            report.objectValue?["tasks"]?.objectValue?["doze"]?.objectValue?["status"] == "running"
        }
        #expect(running.objectValue?["status"] == "running")

        let stopAsked = ContinuousClock.now
        first.terminate()
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(ContinuousClock.now - stopAsked < .seconds(5))
        let sqlite = try SQLiteStore(path: directory.path("uaef.db"))
        #expect(try await sqlite.snapshot(of: RunID(run), tenant: "acme")?.run.status == .running)

        let (second, port2, _) = try await startServer(options, in: directory)
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        let ended = try await waitForRun("http://127.0.0.1:\(port2)/v1/runs/\(run)", token: token) { report in
            report.objectValue?["status"] != "running"
        }
        #expect(ended.objectValue?["status"] == "succeeded")
        #expect(ended.objectValue?["tasks"]?.objectValue?["doze"]?.objectValue?["attempts"] == 2)
    }

    @Test(
        "with OTEL_EXPORTER_OTLP_ENDPOINT set, a run started over the API is one trace: the caller's span, the request, the run, its attempt and its HTTP call, whose traceparent reaches the receiver"
    )
    func tracing() async throws {
        let collector = try OTLPCollector()
        defer { collector.stop() }
        let directory = try TemporaryDirectory("serve-tracing")
        defer { directory.remove() }
        try Data("a-shared-secret-for-this-test-of-48-bytes-long!!".utf8).write(
            to: directory.url.appendingPathComponent("secret"))
        let options = ["--store", "sqlite:" + directory.path("uaef.db"), "--token-secret-file", "secret"]
        let issued = try UAEFProcess.run(
            ["tokens", "issue", "--sub", "ci", "--tenant", "acme", "--roles", "operator", "--json"]
                + options.suffix(2), in: directory.url)
        let token = try #require(try issued.json().objectValue?["token"]?.stringValue, "\(issued.stderr)")
        let (server, port, stderr) = try await startServer(
            options + ["--allow-network", "127.0.0.1"], in: directory,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_SERVICE_NAME": "uaef-under-test",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            ])
        let base = "http://127.0.0.1:\(port)"
        let workflow = """
            name: traced
            tasks:
              - id: call
                agent: http
                with: {url: "\(collector.url)/echo"}
            """
        _ = try await send(.POST, base + "/v1/workflows", token: token, body: workflow)
        // The caller's own span, as a W3C traceparent (the ids of the specification's example).
        let (traceID, callerSpan) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
        let run = try #require(
            try await send(
                .POST, base + "/v1/runs", token: token, body: #"{"workflow":"traced"}"#,
                headers: ["traceparent": "00-\(traceID)-\(callerSpan)-01"]
            ).objectValue?["run_id"]?.stringValue)
        let report = try await waitForRun(base + "/v1/runs/\(run)", token: token) {
            $0.objectValue?["status"] == "succeeded"
        }
        #expect(report.objectValue?["status"] == "succeeded", "\(report)")
        // SIGTERM: the server stops, and exports the spans it still holds first.
        server.terminate()
        server.waitUntilExit()
        let spans = try await collector.spans(of: traceID)
        let log = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        let request = try #require(spans.first("/v1/runs", parent: callerSpan), "spans: \(spans) log: \(log)")
        #expect(request.kind == "SPAN_KIND_SERVER")
        #expect(request.fields["service"] == "uaef-under-test")
        let runSpan = try #require(spans.first("run traced", parent: request.id), "\(spans)")
        #expect(runSpan.attribute("uaef.run.id")?.stringValue == run)
        #expect(runSpan.attribute("uaef.run.status") == "succeeded")
        let attempt = try #require(spans.first("attempt call", parent: runSpan.id), "\(spans)")
        #expect(attempt.attribute("uaef.attempt.status") == "succeeded")
        let call = try #require(spans.first("GET", parent: attempt.id), "\(spans)")
        #expect(call.kind == "SPAN_KIND_CLIENT")
        #expect(call.attribute("http.status_code")?.numberValue?.intValue == 200)
        // The receiver was told the HTTP call's span is its parent.
        let seen = report["tasks"]?["call"]?["output"]?["body"]?["traceparent"]?.stringValue
        #expect(seen == "00-\(traceID)-\(call.id)-01", "\(report)")
    }

    @Test("with --log-format json each request is one JSON log line carrying its X-Request-Id and tenant")
    func jsonLogs() async throws {
        let directory = try TemporaryDirectory("serve-logs")
        defer { directory.remove() }
        let (server, port, stderr) = try await startServer(
            ["--store", "sqlite:" + directory.path("u.db"), "--log-level", "info", "--log-format", "json"],
            in: directory)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/workflows")
        request.headers.add(name: "Authorization", value: "Bearer local")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        let id = try #require(response.headers["X-Request-Id"].first)
        server.terminate()
        server.waitUntilExit()
        let lines = try String(contentsOf: stderr, encoding: .utf8).split(separator: "\n")
        let logged = lines.compactMap { try? JSONValue(jsonText: String($0)).objectValue }.first {
            $0["message"] == "request" && $0["request_id"]?.stringValue == id
        }
        #expect(logged?["tenant"] == "default", "\(lines)")
        #expect(logged?["path"] == "/v1/workflows")
        #expect(logged?["status"] == "200")
        #expect(logged?["level"] == "info")
    }

    @Test("serve refuses an open address without a secret; tokens refuse weak secrets and unknown roles (exit 2)")
    func refusals() async throws {
        let directory = try TemporaryDirectory("serve-refusals")
        defer { directory.remove() }
        try Data("short".utf8).write(to: directory.url.appendingPathComponent("weak"))
        let open = try UAEFProcess.run(
            ["serve", "--host", "0.0.0.0", "--store", "sqlite:" + directory.path("u.db")], in: directory.url)
        #expect(open.status == 2)
        #expect(open.stderr.contains("without authentication"))
        try Data(#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}"#.utf8).write(
            to: directory.url.appendingPathComponent("keys.json"))
        let badKeys = try UAEFProcess.run(
            ["serve", "--token-jwks-file", "keys.json", "--store", "sqlite:" + directory.path("u.db")],
            in: directory.url)
        #expect(badKeys.status == 2)
        #expect(badKeys.stderr.contains("--token-jwks-file keys.json: keys[0]: every key needs a kid and an alg"))
        let weak = try UAEFProcess.run(
            ["tokens", "issue", "--sub", "a", "--tenant", "t", "--roles", "admin", "--token-secret-file", "weak"],
            in: directory.url)
        #expect(weak.status == 2)
        #expect(weak.stderr.contains("at least 32 bytes"))
        let role = try UAEFProcess.run(
            ["tokens", "issue", "--sub", "a", "--tenant", "t", "--roles", "root", "--token-secret-file", "weak"],
            in: directory.url)
        #expect(role.status == 2)
        #expect(role.stderr.contains("'root' is not a role"))
    }
}
