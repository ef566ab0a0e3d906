import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// deploy/compose.yaml without a Docker engine (none runs here): the file is checked against the
/// Compose Specification's published JSON schema, and its services are run as the processes
/// their containers would run, with the commands, environment and secrets the file gives them,
/// on a real PostgreSQL. What is not tested: the image, the containers' network and the
/// `depends_on` ordering, which the test follows by hand.
@Suite("deploy/compose.yaml, without a Docker engine")
struct ComposeFileTests {
    static let root = Fixtures.packageRoot

    /// `compose_services.py` on `compose`: the schema's errors and the services.
    static func read(_ compose: String) async throws -> JSONValue {
        let (status, output) = try await ExternalProcess.run([
            "python3", root.appendingPathComponent("Tests/Support/compose_services.py").path, compose,
            root.appendingPathComponent("Tests/Fixtures/compose-spec.json").path,
        ])
        #expect(status == 0, "\(output)")
        return try JSONValue(jsonText: output)
    }

    @Test(
        "the file validates against the Compose Specification's schema; a copy with a wrong depends_on condition does not"
    )
    func schema() async throws {
        let compose = Self.root.appendingPathComponent("deploy/compose.yaml").path
        #expect(try await Self.read(compose)["errors"] == [])
        let directory = try TemporaryDirectory("compose-schema")
        defer { directory.remove() }
        try String(contentsOfFile: compose, encoding: .utf8).replacingOccurrences(
            of: "condition: service_completed_successfully", with: "condition: finished"
        ).write(toFile: directory.path("compose.yaml"), atomically: true, encoding: .utf8)
        let errors = try await Self.read(directory.path("compose.yaml"))["errors"]?.arrayValue ?? []
        #expect(errors.contains { $0.stringValue?.contains("depends_on") == true }, "\(errors)")
    }

    @Test(
        "its services run as it says: migrate, then serve and two workers on one PostgreSQL execute runs started over the API and submitted from outside; SIGTERM stops all three"
    )
    func services() async throws {
        let services = try #require(
            try await Self.read(Self.root.appendingPathComponent("deploy/compose.yaml").path)["services"])
        let server = try PostgresTestServer()
        defer { try? server.remove() }
        let database = try server.makeDatabase()
        let directory = try TemporaryDirectory("compose")
        defer { directory.remove() }
        // The secrets the file's comment says to make, where the containers would mount them.
        try Data("a-token-secret-for-the-compose-test-48-bytes-long".utf8).write(
            to: directory.url.appendingPathComponent("token-secret"))

        /// A service's command, and its environment with the database's address and the secrets'
        /// directory put in: the only values the test changes.
        let secrets = directory.url.path + "/"
        func service(_ name: String) throws -> (command: [String], environment: [String: String]) {
            let service = try #require(services[name], "no service \(name)")
            let store = try #require(service["environment"]?["UAEF_STORE"]?.stringValue)
            #expect(store.hasPrefix("postgres://uaef:${UAEF_DB_PASSWORD:?") && store.hasSuffix("@postgres:5432/uaef"))
            var environment: [String: String] = [:]
            for (key, value) in service["environment"]?.objectValue ?? [:] {
                environment[key] = value.stringValue?.replacingOccurrences(of: "/run/secrets/", with: secrets)
            }
            environment["UAEF_STORE"] = database
            let command = (service["command"]?.arrayValue ?? []).compactMap(\.stringValue).map {
                $0.replacingOccurrences(of: "/run/secrets/", with: secrets)
            }
            for secret in service["secrets"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                #expect(
                    environment.values.contains(directory.path(secret)) || command.contains(directory.path(secret)),
                    "\(name) mounts \(secret) but does not use it")
            }
            return (command, environment)
        }

        let migrate = try service("migrate")
        let migrated = try UAEFProcess.run(migrate.command, in: directory.url, environment: migrate.environment)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let serve = try service("serve")
        let key = try UAEFProcess.run(
            ["ledger", "key", "--ledger-key", try #require(serve.environment["UAEF_LEDGER_KEY"])], in: directory.url,
            environment: ["UAEF_STORE": database])
        #expect(key.status == 0, "\(key.stderr)")

        // serve listens on the file's address; on port 0 here (8080 may be taken), told with --json.
        let (serving, stdout, _) = try UAEFProcess.start(
            serve.command + ["--port", "0", "--json"], in: directory.url, environment: serve.environment)
        let workers = try ["worker-1", "worker-2"].map { name in
            let worker = try service(name)
            return try UAEFProcess.start(worker.command, in: directory.url, environment: worker.environment).0
        }
        let processes = [serving] + workers
        defer { for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(20)
        while port == nil, serving.isRunning, ContinuousClock.now < deadline {
            port = (try? String(contentsOf: stdout, encoding: .utf8))?.split(separator: "\n").first.flatMap {
                (try? JSONValue(jsonText: String($0)))?["port"]?.numberValue?.intValue
            }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let base = "http://127.0.0.1:\(try #require(port, "uaef serve did not start"))"

        let issued = try UAEFProcess.run(
            [
                "tokens", "issue", "--token-secret-file", directory.path("token-secret"), "--sub", "ops", "--tenant",
                "default", "--roles", "operator", "--json",
            ], in: directory.url)
        let token = try #require(try issued.json()["token"]?.stringValue)
        func send(_ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> JSONValue {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return try JSONValue(jsonText: String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        let workflow = "name: hello\ntasks:\n  - {id: greet, agent: echo, with: {message: hi}}\n"
        #expect(try await send(.POST, "/v1/workflows", workflow)["version"] == 1)
        var runs = [try #require(try await send(.POST, "/v1/runs", #"{"workflow": "hello"}"#)["run_id"]?.stringValue)]
        // Runs created outside the server (as a batch job would) are the workers' to claim.
        try workflow.write(toFile: directory.path("hello.yaml"), atomically: true, encoding: .utf8)
        for _ in 0..<4 {
            let submitted = try UAEFProcess.run(
                ["submit", "hello.yaml"], in: directory.url, environment: ["UAEF_STORE": database])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            runs.append(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for run in runs {
            var status = ""
            let until = ContinuousClock.now + .seconds(40)
            while status != "succeeded", ContinuousClock.now < until {
                status = try await send(.GET, "/v1/runs/\(run)")["status"]?.stringValue ?? ""
                if status != "succeeded" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == "succeeded", "run \(run)")
        }
        for process in processes {
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }
}
