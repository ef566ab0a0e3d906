import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: rules, signals, settlements, approvals, accounts")
struct SettlementAPITests {
    static let rules = """
        accounts:
          - {id: "expense:compute", type: expense, currency: EUR}
          - {id: "vendor:gpu", type: liability, currency: EUR}
        rules:
          - id: pay-gpu
            on: signal.gpu_hours
            amount:
              per_unit: {rate: "2.50", quantity: "${{ event.data.hours }}"}
            currency: EUR
            from: "expense:compute"
            to: "vendor:gpu"
            approval: {above: "100.00", approvers: 2, role: finance, expires: 1h}
        """

    @Test(
        "a signal settles by rule; a large one waits for two finance approvers from their tokens, never its maker, then posts"
    )
    func makerChecker() async throws {
        try await ServerHarness.start().serving { server in
            let operatorToken = try await server.authority!.issue(
                for: Principal(subject: "ops", tenant: "acme", roles: [.admin], approvalRoles: ["finance"]),
                lifetime: .seconds(600))
            let loaded = try await server.send(.POST, "/v1/rules", token: operatorToken, body: Self.rules)
            #expect(loaded.status == 201)
            #expect(loaded["rules"] == ["pay-gpu"])

            let small = try await server.send(
                .POST, "/v1/signals", token: operatorToken, body: #"{"name": "gpu_hours", "data": {"hours": 4}}"#,
                headers: [("Idempotency-Key", "hours-1")])
            #expect(small.status == 201)
            #expect(small["settlements"]?.arrayValue?.first?.objectValue?["status"] == "posted")
            #expect(small["settlements"]?.arrayValue?.first?.objectValue?["amount"] == "10.00")
            let again = try await server.send(
                .POST, "/v1/signals", token: operatorToken, body: #"{"name": "gpu_hours", "data": {"hours": 4}}"#,
                headers: [("Idempotency-Key", "hours-1")])
            #expect(again.status == 200)
            #expect(again["replayed"] == true)

            let large = try await server.send(
                .POST, "/v1/signals", token: operatorToken,
                body: #"{"name": "gpu_hours", "data": {"hours": 100}, "idempotency_key": "hours-2"}"#)
            let settlement = try #require(large["settlements"]?.arrayValue?.first?.objectValue?["id"]?.stringValue)
            #expect(large["settlements"]?.arrayValue?.first?.objectValue?["status"] == "pending_approval")
            let waiting = try await server.send(.GET, "/v1/approvals", token: operatorToken)
            #expect(waiting["approvals"]?.arrayValue?.map { $0.objectValue?["id"]?.stringValue } == [settlement])
            // Pages of one: the newest, then `next` leads to the older one, which ends the list.
            let newest = try await server.send(.GET, "/v1/settlements?limit=1", token: operatorToken)
            #expect(newest["settlements"]?.arrayValue?.first?["id"]?.stringValue == settlement)
            let older = try await server.send(
                .GET, "/v1/settlements?limit=1&before=\(newest["next"]?.stringValue ?? "")", token: operatorToken)
            #expect(
                older["settlements"]?.arrayValue?.first?["amount"] == "10.00" && older["next"] == nil, "\(older.body)")
            // The same pages through the MCP tool.
            let mcpPage = { (arguments: String) in
                let answer = try await server.send(
                    .POST, "/v1/mcp", token: operatorToken,
                    body:
                        #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_settlements","arguments":"#
                        + arguments + "}}",
                    headers: [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")])
                return try JSONValue(
                    jsonText: answer["result"]?["content"]?.arrayValue?.first?["text"]?.stringValue ?? "")
            }
            let mcpNewest = try await mcpPage(#"{"limit": 1}"#)
            #expect(mcpNewest["next"] == newest["next"], "\(mcpNewest)")
            let mcpOlder = try await mcpPage(#"{"limit": 1, "before": "\#(newest["next"]?.stringValue ?? "")"}"#)
            #expect(
                mcpOlder["settlements"]?.arrayValue?.first?["amount"] == "10.00" && mcpOlder["next"] == nil,
                "\(mcpOlder)")

            // The maker may not approve, even as an admin with the finance role; an operator may not approve at all.
            let makerApproves = try await server.send(
                .POST, "/v1/approvals/\(settlement)/approve", token: operatorToken)
            #expect(makerApproves.status == 409)
            #expect(makerApproves["detail"]?.stringValue?.contains("maker") == true, "\(makerApproves.body)")
            let plainOperator = try await server.token("acme", [.operator])
            #expect(
                try await server.send(.POST, "/v1/approvals/\(settlement)/approve", token: plainOperator).status == 403)
            let approver = { (name: String, roles: Set<String>) in
                try await server.authority!.issue(
                    for: Principal(subject: name, tenant: "acme", roles: [.approver], approvalRoles: roles),
                    lifetime: .seconds(600))
            }
            let outsider = try await approver("eve", ["legal"])
            let wrongRole = try await server.send(.POST, "/v1/approvals/\(settlement)/approve", token: outsider)
            #expect(wrongRole.status == 409)
            #expect(wrongRole["detail"]?.stringValue?.contains("finance") == true, "\(wrongRole.body)")
            #expect(
                try await server.send(
                    .POST, "/v1/approvals/\(settlement)/approve", token: outsider, body: #"{"role": "finance"}"#
                ).status == 403)
            let alice = try await approver("alice", ["finance"])
            let first = try await server.send(
                .POST, "/v1/approvals/\(settlement)/approve", token: alice, body: #"{"reason": "checked the invoice"}"#)
            #expect(first["status"] == "pending_approval")
            let twice = try await server.send(.POST, "/v1/approvals/\(settlement)/approve", token: alice)
            #expect(twice.status == 409)
            let bob = try await approver("bob", ["finance"])
            let second = try await server.send(.POST, "/v1/approvals/\(settlement)/approve", token: bob)
            #expect(second["status"] == "posted")

            let shown = try await server.send(.GET, "/v1/settlements/\(settlement)", token: alice)
            #expect(
                shown["approvals"]?.arrayValue?.compactMap { $0.objectValue?["principal"]?.stringValue } == [
                    "api:alice", "api:bob",
                ])
            let accounts = try await server.send(.GET, "/v1/accounts", token: alice)
            #expect(accounts["trial_balance_minor_units"] == 0)
            let gpu = accounts["accounts"]?.arrayValue?.first { $0.objectValue?["id"] == "vendor:gpu" }?.objectValue
            #expect(gpu?["posted"] == "260.00")
            // One single-phase transfer, and the approved one's pending transfer with the post that names it.
            let journal = try #require(
                try await server.send(.GET, "/v1/journal", token: alice)["transfers"]?.arrayValue)
            #expect(journal.map { $0.objectValue?["phase"]?.stringValue } == ["posted", "pending", "posted"])
            #expect(journal.last?.objectValue?["pending_id"] == journal[1].objectValue?["id"])

            // Reversal needs a reason and books the transfers back.
            #expect(
                try await server.send(.POST, "/v1/settlements/\(settlement)/reverse", token: bob, body: "{}").status
                    == 422)
            let reversed = try await server.send(
                .POST, "/v1/settlements/\(settlement)/reverse", token: bob, body: #"{"reason": "duplicate invoice"}"#)
            #expect(reversed["status"] == "voided")
            let after = try await server.send(.GET, "/v1/accounts", token: alice)
            #expect(
                after["accounts"]?.arrayValue?.first { $0.objectValue?["id"] == "vendor:gpu" }?.objectValue?["posted"]
                    == "10.00")
            // Another tenant sees none of it.
            let stranger = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/settlements/\(settlement)", token: stranger).status == 404)
            #expect(try await server.send(.POST, "/v1/approvals/\(settlement)/reject", token: stranger).status == 404)
        }
    }
}
