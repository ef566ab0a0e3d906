import Foundation
import Testing
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore
import UAEFTestSupport

/// Maker-checker across a run's retries: who retried a run is a maker of what its new go leads to.
@Suite("Maker-checker across retries, on SQLite and PostgreSQL")
struct RetryMakerCheckerTests {
    static let workflow = """
        name: pay-supplier
        tasks:
          - {id: sign, agent: approval, with: {role: finance}}
          - {id: pay, agent: echo, depends_on: [sign], with: {amount: 500}}
        settlements:
          accounts:
            - {id: ops, type: expense, currency: EUR}
            - {id: vendor, type: liability, currency: EUR}
          rules:
            - id: payout
              on: run.succeeded
              amount: {fixed: 500}
              currency: EUR
              from: ops
              to: vendor
              approval: {above: "100", approvers: 1, role: finance}
        """

    @Test(
        "a succeeded run run again from its approval task: whoever retried it may approve neither the approval its new go asks for nor the settlement it books, and its creator may not either; another approver may",
        arguments: StoreBackend.allCases)
    func retrierIsAMaker(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "retry-maker")
        defer { location.remove() }
        let engine = try await SettlementEngineTests().engine(location)
        let definition = try await engine.validate(Self.workflow, file: "pay.yaml")
        let id = try await engine.submit(definition, file: "pay.yaml", inputs: [], actor: "cli:maker", leased: true)
        #expect(try await execute(id, engine, approver: "cli:checker") == .succeeded)
        let first = try #require(try await engine.settle().settlements.first)
        #expect(first.detail["retried_by"] == nil)

        let outcome = try #require(try await engine.retry(id, from: ["sign"], actor: "cli:admin", leased: true))
        #expect(outcome.run.retriedBy == "cli:admin")
        let status = try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await engine.execute([id])[id] }
            let approval = try await pendingApproval(engine)
            for (principal, reason) in [
                ("cli:admin", "cli:admin retried the run that led to approval \(approval.id)"),
                ("cli:maker", "cli:maker started what led to approval \(approval.id)"),
            ] {
                do {
                    _ = try await engine.decide(
                        task: approval.id, .approve, principal: principal, role: "finance", reason: nil)
                    Issue.record("\(principal) approved")
                } catch let refusal as Refusal {
                    #expect(refusal.description.contains(reason), "\(refusal)")
                }
            }
            _ = try await engine.decide(
                task: approval.id, .approve, principal: "cli:other", role: "finance", reason: nil)
            return try await group.next() ?? nil
        }
        #expect(status == .succeeded)

        let second = try #require(try await engine.settle().settlements.first)
        #expect(second.id != first.id && second.status == .pendingApproval)
        #expect(second.maker == "cli:maker" && second.detail["retried_by"] == "cli:admin")
        for principal in ["cli:admin", "cli:maker"] {
            await #expect(throws: Refusal.self) {
                try await engine.decide(second.id, .approve, principal: principal, role: "finance", reason: nil)
            }
        }
        #expect(
            try await engine.decide(second.id, .approve, principal: "cli:checker", role: "finance", reason: nil).status
                == .posted)
    }

    @Test(
        "settlement running behind a retry names each go's own retrier: the first go's settlement none, the rerun's its retrier",
        arguments: [StoreBackend.sqlite])
    func settlementBehindARetry(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "retry-maker-late")
        defer { location.remove() }
        let engine = try await SettlementEngineTests().engine(location)
        let definition = try await engine.validate(Self.workflow, file: "pay.yaml")
        let id = try await engine.submit(definition, file: "pay.yaml", inputs: [], actor: "cli:maker", leased: true)
        #expect(try await execute(id, engine, approver: "cli:checker") == .succeeded)
        _ = try #require(try await engine.retry(id, from: ["pay"], actor: "cli:admin", leased: true))
        #expect(try await engine.execute([id])[id] == .succeeded)

        let settlements = try await engine.settle().settlements.sorted { $0.triggerSeq < $1.triggerSeq }
        #expect(settlements.count == 2)
        #expect(settlements.map { $0.detail["retried_by"] } == [nil, "cli:admin"])
        #expect(
            try await engine.decide(settlements[0].id, .approve, principal: "cli:admin", role: "finance", reason: nil)
                .status == .posted, "the first go's settlement is not the retrier's")
    }

    @Test(
        "a child started by a rerun's go bars the parent's retrier too: its approval task refuses them",
        arguments: [StoreBackend.sqlite])
    func childOfARerun(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "retry-maker-child")
        defer { location.remove() }
        let engine = try await SettlementEngineTests().engine(location)
        _ = try await engine.register(
            """
            name: sign-off
            tasks:
              - {id: sign, agent: approval, with: {role: finance}}
            """, origin: "sign-off.yaml", actor: "cli:admin")
        let definition = try await engine.validate(
            """
            name: onboard
            tasks:
              - {id: check, agent: echo, with: {ok: true}}
              - {id: approve, agent: workflow, depends_on: [check], with: {workflow: sign-off}}
            """, file: "onboard.yaml")
        let id = try await engine.submit(definition, file: "onboard.yaml", inputs: [], actor: "cli:maker", leased: true)
        #expect(try await execute(id, engine, approver: "cli:checker") == .succeeded)

        _ = try #require(try await engine.retry(id, from: ["approve"], actor: "cli:admin", leased: true))
        let status = try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await engine.execute([id])[id] }
            let approval = try await pendingApproval(engine)
            #expect(try await engine.store.run(approval.runID, tenant: "default")?.retriedBy == "cli:admin")
            await #expect(throws: Refusal.self) {
                try await engine.decide(
                    task: approval.id, .approve, principal: "cli:admin", role: "finance", reason: nil)
            }
            _ = try await engine.decide(
                task: approval.id, .approve, principal: "cli:other", role: "finance", reason: nil)
            return try await group.next() ?? nil
        }
        #expect(status == .succeeded)
    }

    /// Executes run `id` until it ends, `approver` approving its one approval.
    private func execute(_ id: RunID, _ engine: Engine, approver: String) async throws -> RunStatus? {
        try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await engine.execute([id])[id] }
            let approval = try await pendingApproval(engine)
            _ = try await engine.decide(task: approval.id, .approve, principal: approver, role: "finance", reason: nil)
            return try await group.next() ?? nil
        }
    }

    private func pendingApproval(_ engine: Engine) async throws -> TaskApprovalRecord {
        for _ in 0..<1_500 {
            if let approval = try await engine.store.taskApprovals(tenant: "default", status: .pending).first {
                return approval
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Refusal("no approval was asked for within 30 s")
    }
}
