import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef mcp (stdio) and uaef workflows, as real processes")
struct MCPStdioTests {
    @Test(
        "the independent Python MCP SDK starts uaef mcp as an operator and as an approver: runs, idempotency, a verified proof, an approval, errors"
    )
    func pythonClientOverStdio() async throws {
        let directory = try TemporaryDirectory("mcp-stdio")
        defer { directory.remove() }
        try MCPClientCheck.helloWorkflow.write(toFile: directory.path("hello.yaml"), atomically: true, encoding: .utf8)
        try MCPClientCheck.signOffWorkflow.write(
            toFile: directory.path("sign-off.yaml"), atomically: true, encoding: .utf8)
        let store = "sqlite:" + directory.path("uaef.db")
        let uaef = Fixtures.binary.path
        let registered = try await ExternalProcess.run(
            [
                uaef, "workflows", "register", directory.path("hello.yaml"), directory.path("sign-off.yaml"), "--store",
                store, "--json",
            ])
        try #require(registered.status == 0, "\(registered.output)")
        #expect(try JSONValue(jsonText: registered.output).arrayValue?.map { $0["created"] } == [true, true])
        let events = try await ExternalProcess.run([uaef, "events", "--store", store, "--json"])
        let seq = try #require(
            events.output.split(separator: "\n").first.flatMap {
                try? JSONValue(jsonText: $0)["seq"]?.numberValue?.intValue
            })
        let summary = try await MCPClientCheck.run(
            operator: .stdio([uaef, "mcp", "--store", store, "--subject", "ops"]),
            approver: .stdio([
                uaef, "mcp", "--store", store, "--subject", "alice", "--roles", "approver", "--approves-as", "finance",
            ]),
            proofSeq: seq)
        #expect(MCPClientCheck.mismatches(in: summary) == [], "\(summary.jsonText)")
    }

    @Test("uaef workflows register validates every file first: one invalid file registers nothing and exits 2")
    func registerIsAllOrNothing() async throws {
        let directory = try TemporaryDirectory("workflows")
        defer { directory.remove() }
        try MCPClientCheck.helloWorkflow.write(toFile: directory.path("hello.yaml"), atomically: true, encoding: .utf8)
        try "name: broken\ntasks:\n  - id: a\n    agent: echo\n    depends_on: [nowhere]\n".write(
            toFile: directory.path("broken.yaml"), atomically: true, encoding: .utf8)
        let store = "sqlite:" + directory.path("uaef.db")
        let refused = try UAEFProcess.run(
            ["workflows", "register", "hello.yaml", "broken.yaml", "--store", store], in: directory.url)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("broken.yaml:3") && refused.stderr.contains("nowhere"), "\(refused.stderr)")
        let listed = try UAEFProcess.run(["workflows", "list", "--store", store, "--json"], in: directory.url)
        #expect(try listed.json() == [])
        let again = try UAEFProcess.run(["workflows", "register", "hello.yaml", "--store", store], in: directory.url)
        #expect(again.stdout == "registered hello version 1\n")
        let unchanged = try UAEFProcess.run(
            ["workflows", "register", "hello.yaml", "--store", store], in: directory.url)
        #expect(unchanged.stdout == "unchanged hello version 1\n")
        let shown = try UAEFProcess.run(["workflows", "show", "hello", "--store", store], in: directory.url)
        #expect(shown.stdout == MCPClientCheck.helloWorkflow + "\n")
        let missing = try UAEFProcess.run(
            ["workflows", "show", "hello", "--version", "2", "--store", store], in: directory.url)
        #expect(missing.status == 2 && missing.stderr.contains("versions 1 to 1, not 2"), "\(missing.stderr)")
    }
}
