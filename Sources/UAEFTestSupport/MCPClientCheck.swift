import Foundation
import UAEFCore

/// Runs Tests/Support/mcp_client_check.py: the independent Python MCP SDK as a client of UAEF's
/// MCP server, as an operator and then an approver, over stdio or Streamable HTTP.
public enum MCPClientCheck {
    /// How the script reaches the server as one principal.
    public enum Transport: Sendable {
        /// The SDK starts this program (e.g. `uaef mcp …`) and speaks on its standard streams.
        case stdio([String])
        /// Streamable HTTP at this URL with this bearer token.
        case http(String, token: String)

        var json: JSONValue {
            switch self {
            case .stdio(let command): ["stdio": .array(command.map(JSONValue.string))]
            case .http(let url, let token): ["http": .string(url), "token": .string(token)]
            }
        }
    }

    /// A workflow the script runs to its end: one echo task.
    public static let helloWorkflow = Fixtures.helloWorkflow

    /// A workflow whose run waits for one approval in the role `finance`.
    public static let signOffWorkflow = """
        name: sign-off
        tasks:
          - id: approve
            agent: approval
            with: {role: finance, message: "Pay it?"}
            timeout: 10m
        """

    /// The script's summary of what it saw, with both workflows registered in the server's store
    /// beforehand and `proofSeq` one of the operator's tenant's events.
    public static func run(operator: Transport, approver: Transport, proofSeq: Int) async throws -> JSONValue {
        let scenario: JSONValue = [
            "operator": `operator`.json, "approver": approver.json, "workflow": "hello", "inputs": ["who": "mcp"],
            "approval_workflow": "sign-off", "proof_seq": .number(Number(proofSeq)),
            "verifier": .string(Fixtures.packageRoot.appendingPathComponent("docs/verify_ledger.py").path),
        ]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mcp-scenario-\(UUID()).json")
        try scenario.jsonText.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = Fixtures.packageRoot.appendingPathComponent("Tests/Support/mcp_client_check.py").path
        let (status, output) = try await ExternalProcess.run(["python3", script, file.path], withErrors: true)
        guard status == 0, let summary = output.split(separator: "\n").last.flatMap({ try? JSONValue(jsonText: $0) })
        else { throw Failure(description: "mcp_client_check.py exited \(status):\n\(output)") }
        return summary
    }

    /// The script failed; its output says why.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// What every run of the scenario must see, whatever the transport: the pairs that differ
    /// from the expectation, empty when all hold.
    public static func mismatches(in summary: JSONValue) -> [String] {
        let expected: [(String, JSONValue)] = [
            ("server", "uaef"),
            (
                "operator_tools",
                [
                    "backfill_schedule", "describe_workflow", "get_ledger_proof", "get_run", "list_approvals",
                    "list_runs", "list_schedules", "list_settlements", "list_templates", "list_workflows", "retry_run",
                    "start_run", "trigger_schedule", "use_template",
                ]
            ),
            (
                "approver_tools",
                [
                    "decide_approval", "describe_workflow", "get_run", "list_approvals", "list_runs",
                    "list_schedules", "list_settlements", "list_templates", "list_workflows",
                ]
            ),
            ("all_have_output_schemas", true), ("workflows", ["hello", "sign-off"]),
            ("described_source_names_workflow", true), ("same_run_for_same_key", true), ("run_status", "succeeded"),
            ("run_outputs", ["greet": ["message": "hello mcp"]]), ("listed_run", true), ("proof_verified", true),
            ("decision", "approved"), ("approved_run_status", "succeeded"),
        ]
        var mismatches = expected.compactMap { key, value in
            summary[key] == value
                ? nil : "\(key): expected \(value.jsonText), saw \(summary[key]?.jsonText ?? "nothing")"
        }
        let errors: [(String, String)] = [
            ("unknown_member", "$.bogus: not allowed"), ("missing_run", "run run_doesnotexist does not exist"),
            ("missing_workflow", "no workflow named 'no-such-workflow'"),
        ]
        for (key, text) in errors where !(summary["errors"]?[key]?.stringValue ?? "").contains(text) {
            mismatches.append("errors.\(key): expected an error containing \(text)")
        }
        if !(summary["operator_decides"]?.stringValue ?? "").contains("may not call decide_approval") {
            mismatches.append("operator_decides: the operator was not refused")
        }
        return mismatches
    }
}
