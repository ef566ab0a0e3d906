import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("Agent kinds against real processes and a real HTTP server")
struct AgentKindTests {
    func run(_ yaml: String) throws -> JSONValue {
        let directory = try TemporaryDirectory("kinds")
        defer { directory.remove() }
        let path = directory.path("w.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try UAEFProcess.run(
            ["run", path, "--json", "--store", "sqlite:" + directory.path("s.db")], in: directory.url)
        return try result.json()
    }

    @Test("http: GET parses JSON; POST sends JSON with an Idempotency-Key; 404 fails without retry; 500 retries")
    func http() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let report = try run(
            """
            name: h
            tasks:
              - {id: get, agent: http, with: {url: "\(base)/hello"}}
              - id: post
                agent: http
                with: {url: "\(base)/echo", method: post, body: {amount: 12.50, items: [1, 2]}}
              - {id: missing, agent: http, retry: {max_attempts: 3, backoff: 10ms}, with: {url: "\(base)/missing"}}
              - {id: broken, agent: http, retry: {max_attempts: 2, backoff: 10ms}, with: {url: "\(base)/broken"}}
            """)
        let tasks = report["tasks"]
        #expect(tasks?["get"]?["output"]?["status"] == 200)
        #expect(tasks?["get"]?["output"]?["body"] == ["hello": "world"])
        let echoed = tasks?["post"]?["output"]?["body"]
        #expect(echoed?["body"] == ["amount": .number(Number(parsing: "12.5")!), "items": [1, 2]])
        #expect(echoed?["content_type"] == "application/json")
        #expect(echoed?["idempotency_key"]?.stringValue?.hasSuffix("/post/1") == true)
        #expect(tasks?["missing"]?["status"] == "failed")
        #expect(tasks?["missing"]?["attempts"] == 1)
        #expect(tasks?["missing"]?["error"]?.stringValue?.contains("answered 404: no such page") == true)
        #expect(tasks?["broken"]?["attempts"] == 2)
    }

    @Test("command: a timeout kills the program, counts as an attempt and is retried")
    func commandTimeout() throws {
        let started = Date()
        let report = try run(
            """
            name: t
            tasks:
              - id: stuck
                agent: command
                timeout: 200ms
                retry: {max_attempts: 2, backoff: 10ms}
                with: {command: [sleep, "30"]}
            """)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(report["tasks"]?["stuck"]?["status"] == "failed")
        #expect(report["tasks"]?["stuck"]?["attempts"] == 2)
        #expect(report["tasks"]?["stuck"]?["error"] == "timed out after 200ms")
    }

    @Test("command: stdin, env, cwd and text output")
    func commandParameters() throws {
        let report = try run(
            """
            name: c
            tasks:
              - id: shell
                agent: command
                with:
                  command: [sh, -c, 'read line; echo "$line $GREETING $(pwd)"']
                  stdin: hello
                  env: {GREETING: world}
                  cwd: /tmp
              - {id: missing, agent: command, with: {command: [no-such-program-uaef]}}
            """)
        #expect(report["tasks"]?["shell"]?["output"] == ["stdout": "hello world /tmp\n"])
        #expect(report["tasks"]?["missing"]?["error"]?.stringValue?.contains("was not found on PATH") == true)
    }

    @Test("sleep waits for its duration")
    func sleep() throws {
        let report = try run("name: s\ntasks:\n  - {id: nap, agent: sleep, with: {duration: 100ms}}\n")
        #expect(report["tasks"]?["nap"]?["output"] == ["slept_ms": 100])
    }
}

@Suite("command programs start with clean signal handling")
struct CommandSignalTests {
    @Test("a program started by the command kind has no signals blocked, so SIGTERM can stop it")
    func unblockedSignals() throws {
        let directory = try TemporaryDirectory("signals")
        defer { directory.remove() }
        let path = directory.path("w.yaml")
        try
            "name: s\ntasks:\n  - {id: mask, agent: command, with: {command: [sh, -c, 'grep SigBlk /proc/self/status']}}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try UAEFProcess.run(
            ["run", path, "--json", "--store", "sqlite:" + directory.path("s.db")], in: directory.url)
        let stdout = try result.json()["tasks"]?["mask"]?["output"]?["stdout"]?.stringValue
        #expect(stdout?.trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000")
    }
}
