import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTemplates
import UAEFTestSupport

/// Each built-in template made into a workflow, validated by the engine against registered
/// agents of its capabilities (echo agents whose configuration plays the part of the real
/// agents' outputs) and run to its end on SQLite, approvals decided as a person would.
@Suite("Built-in templates run end to end")
struct BuiltInTemplateRunTests {
    @Test(
        "invoice-approval: above the threshold an invoice waits for finance, then posts; a raised threshold posts it at once"
    )
    func invoiceApproval() async throws {
        let agents = [
            AgentSpec(
                name: "reader", kind: "echo", capabilities: ["invoice.extract"],
                configuration: ["vendor": "ACME", "invoice_number": "INV-7", "total": 2500, "currency": "EUR"],
                activate: true),
            AgentSpec(
                name: "erp", kind: "echo", capabilities: ["erp.post"], configuration: ["document": "5100000042"],
                activate: true),
        ]
        let approved = try await Self.run(
            "invoice-approval", agents: agents, inputs: ["invoice={\"id\": 7}"], approveAs: "finance")
        #expect(approved.status == .succeeded)
        #expect(
            approved.tasks == [
                "extract": .succeeded, "check": .succeeded, "approve": .succeeded, "post": .succeeded,
                "alert": .skipped,
            ])
        #expect(approved.approvalMessage == "Invoice INV-7 from ACME: 2500 EUR, above the threshold of 1000")

        let direct = try await Self.run(
            "invoice-approval", values: ["approval_threshold": 5000], agents: agents, inputs: [], approveAs: nil)
        #expect(direct.status == .succeeded)
        #expect(direct.tasks["approve"] == .skipped)
        #expect(direct.tasks["post"] == .succeeded)
    }

    @Test("supplier-onboarding: each document verified, a risky supplier approved by procurement, then created")
    func supplierOnboarding() async throws {
        let agents = [
            AgentSpec(
                name: "verifier", kind: "echo", capabilities: ["document.verify"], configuration: ["valid": true],
                maxConcurrency: 4, activate: true),
            AgentSpec(
                name: "screening", kind: "echo", capabilities: ["supplier.screen"], configuration: ["risk_score": 85],
                activate: true),
            AgentSpec(
                name: "erp", kind: "echo", capabilities: ["erp.supplier.create"], configuration: ["supplier_id": "S-1"],
                activate: true),
        ]
        let supplier =
            #"supplier={"name": "Globex", "country": "DE", "tax_id": "DE123", "documents": [{"kind": "tax"}, {"kind": "bank"}]}"#
        let result = try await Self.run(
            "supplier-onboarding", agents: agents, inputs: [supplier], approveAs: "procurement")
        #expect(result.status == .succeeded)
        #expect(result.tasks["verify[0]"] == .succeeded && result.tasks["verify[1]"] == .succeeded)
        #expect(result.tasks["approve"] == .succeeded && result.tasks["create"] == .succeeded)
        #expect(result.approvalMessage == "Supplier Globex (DE) has risk score 85")
    }

    @Test("account-reconciliation: a difference beyond the tolerance is approved by a controller and adjusted")
    func accountReconciliation() async throws {
        let agents = [
            AgentSpec(
                name: "bank", kind: "echo", capabilities: ["bank.statement"],
                configuration: ["closing_balance": .number(Number(parsing: "1000.5")!)], activate: true),
            AgentSpec(
                name: "gl", kind: "echo", capabilities: ["ledger.balance"], configuration: ["balance": 1000],
                activate: true),
            AgentSpec(
                name: "matcher", kind: "echo", capabilities: ["reconcile.match"], configuration: ["unmatched": []],
                activate: true),
            AgentSpec(name: "poster", kind: "echo", capabilities: ["ledger.adjust"], activate: true),
        ]
        let result = try await Self.run(
            "account-reconciliation", agents: agents, inputs: ["account=1200", "period=2026-11"],
            approveAs: "controller")
        #expect(result.status == .succeeded)
        #expect(result.tasks["approve"] == .succeeded && result.tasks["adjust"] == .succeeded)
        #expect(result.approvalMessage == "Account 1200 for 2026-11 is off by 0.5: approve an adjustment")

        let withinTolerance = try await Self.run(
            "account-reconciliation", values: ["tolerance": 1], agents: agents, inputs: ["account=1200"], approveAs: nil
        )
        #expect(withinTolerance.status == .succeeded)
        #expect(withinTolerance.tasks["approve"] == .skipped && withinTolerance.tasks["adjust"] == .skipped)
    }

    @Test("document-triage: a confident answer is routed at once; the categories reach the model's schema")
    func documentTriage() async throws {
        let agents = [
            AgentSpec(
                name: "classifier", kind: "echo", capabilities: ["document.classify"],
                configuration: ["answer": ["category": "contract", "confidence": .number(Number(parsing: "0.93")!)]],
                activate: true),
            AgentSpec(name: "router", kind: "echo", capabilities: ["document.route"], activate: true),
        ]
        let result = try await Self.run(
            "document-triage", values: ["categories": ["invoice", "contract"]], agents: agents,
            inputs: ["document=Master services agreement"], approveAs: nil)
        #expect(result.status == .succeeded)
        #expect(result.tasks["review"] == .skipped && result.tasks["route"] == .succeeded)
        let schema = result.outputs["classify"]?.objectValue?["output_schema"]
        #expect(
            schema?.objectValue?["properties"]?.objectValue?["category"] == [
                "type": "string", "enum": ["invoice", "contract"],
            ])
    }

    /// What a run of a template's instance came to.
    struct Outcome {
        var status: RunStatus
        var tasks: [String: TaskStatus]
        var outputs: [String: JSONValue]
        /// The message of the approval the run waited for, if any.
        var approvalMessage: String?
    }

    /// Registers `agents`, makes the template's workflow, validates it with the engine and runs
    /// it; with `approveAs`, waits for the run's approval and approves it as a person of that role.
    static func run(
        _ name: String, values: [String: JSONValue] = [:], agents: [AgentSpec], inputs: [String],
        approveAs role: String?
    ) async throws -> Outcome {
        let location = try TestStore(.sqlite)
        defer { location.remove() }
        let store = try await location.open()
        var configuration = Runner.Configuration()
        configuration.pollInterval = .milliseconds(20)
        let engine = Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
        _ = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
            agents, actor: "admin")
        let template = try #require(TemplateCatalog.builtIn.template(named: name))
        let instance = try template.instantiate(values: values, place: "test")
        let definition = try await engine.validate(instance.source, file: "\(name) instance")
        let id = try await engine.submit(definition, file: "instance", inputs: inputs, actor: "maker", leased: true)
        var message: String?
        let status = try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await engine.execute([id])[id] }
            if let role {
                let approval = try await Self.pendingApproval(in: store)
                message = approval.message
                _ = try await engine.decide(task: approval.id, .approve, principal: "checker", role: role, reason: nil)
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let snapshot = try #require(try await store.snapshot(of: id, tenant: "default"))
        return Outcome(
            status: try #require(status),
            tasks: Dictionary(uniqueKeysWithValues: snapshot.tasks.map { ($0.key, $0.status) }),
            outputs: Dictionary(
                uniqueKeysWithValues: snapshot.tasks.compactMap { task in task.output.map { (task.key, $0) } }),
            approvalMessage: message)
    }

    private static func pendingApproval(in store: any WorkflowStore) async throws -> TaskApprovalRecord {
        for _ in 0..<1_500 {
            if let approval = try await store.taskApprovals(tenant: "default", status: .pending).first {
                return approval
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CancellationError()
    }
}
