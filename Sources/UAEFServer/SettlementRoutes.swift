import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

/// Money: rules, signals, settlements, the journal, accounts and approvals (maker-checker, the
/// principal and its approval role taken from the token).
struct SettlementRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    var runtime: ServerRuntime { operations.runtime }
    var ledgerChanges: LedgerChanges { operations.ledgerChanges }

    var store: any WorkflowStore { runtime.engine.store }

    func add(to group: RouterGroup<APIContext>) {
        group.post("rules") { request, context in
            let principal = try context.require(.writeWorkflows)
            let text = try await JSONMessage.text(of: request, limit: bodyLimit)
            let (version, rules) = try await runtime.engine(for: principal.tenant).loadRules(
                text, file: "request body", actor: principal.actor)
            return JSONMessage.response(
                [
                    "version": .number(Number(version)), "rules": .array(rules.rules.map { .string($0.id) }),
                    "accounts": .array(rules.accounts.map { .string($0.id) }),
                ], status: .created)
        }
        group.post("signals") { request, context in
            let principal = try context.require(.writeRuns)
            let body = try await JSONMessage.object(of: request, limit: bodyLimit)
            try JSONMessage.checkMembers(body, allowed: ["name", "data", "idempotency_key"], in: "the signal")
            guard let name = body["name"]?.stringValue, !name.isEmpty else {
                throw Problem(.unprocessableContent, "validation-failed", "name: required, the signal's name")
            }
            guard let key = request.headers[.idempotencyKey] ?? body["idempotency_key"]?.stringValue, !key.isEmpty
            else {
                throw Problem(
                    .unprocessableContent, "validation-failed",
                    "idempotency_key: required (or an Idempotency-Key header), so a retried signal settles once")
            }
            let data = body["data"]?.objectValue ?? [:]
            let engine = runtime.engine(for: principal.tenant)
            let result = try await engine.signal(name, data: data, idempotencyKey: key, actor: principal.actor)
            await ledgerChanges.mark(principal.tenant)
            return JSONMessage.response(
                [
                    "seq": .number(Number(Int(result.seq))), "replayed": .bool(result.replayed),
                    "settlements": .array(result.settlements.map(SettlementJSON.settlement)),
                ], status: result.replayed ? .ok : .created)
        }
        group.get("settlements") { request, context in
            let principal = try context.require(.read)
            let limit = try request.integerQuery("limit", in: 1...1000) ?? 100
            var status: SettlementStatus?
            if let text = try request.textQuery("status") {
                guard let parsed = SettlementStatus(rawValue: text) else {
                    let valid = SettlementStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    throw Problem.badRequest("status=\(text) is not a settlement status; use one of \(valid)")
                }
                status = parsed
            }
            return JSONMessage.response(
                try await operations.settlements(
                    status: status, before: try request.textQuery("before"), limit: limit, tenant: principal.tenant))
        }
        group.get("settlements/:id") { _, context in
            let principal = try context.require(.read)
            let id = try context.parameters.require("id")
            guard let (settlement, transfers, approvals) = try await store.settlement(id, tenant: principal.tenant)
            else {
                throw Problem.notFound("settlement \(id)")
            }
            var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
            value["detail"] = settlement.detail
            value["transfers"] = .array(transfers.map(SettlementJSON.transfer))
            value["approvals"] = .array(approvals.map(SettlementJSON.approval))
            return JSONMessage.response(.object(value))
        }
        group.post("settlements/:id/reverse") { request, context in
            let principal = try context.require(.approve)
            let id = try context.parameters.require("id")
            let body = try await JSONMessage.object(of: request, limit: bodyLimit)
            try JSONMessage.checkMembers(body, allowed: ["reason"], in: "the reversal")
            guard let reason = body["reason"]?.stringValue, !reason.isEmpty else {
                throw Problem(.unprocessableContent, "validation-failed", "reason: required, why it is reversed")
            }
            guard try await store.settlement(id, tenant: principal.tenant) != nil else {
                throw Problem.notFound("settlement \(id)")
            }
            let settlement = try await runtime.engine(for: principal.tenant).reverse(
                id, reason: reason, actor: principal.actor)
            await ledgerChanges.mark(principal.tenant)
            return JSONMessage.response(SettlementJSON.settlement(settlement))
        }
        group.get("accounts") { _, context in
            let principal = try context.require(.read)
            return JSONMessage.response(SettlementJSON.accounts(try await store.accounts(tenant: principal.tenant)))
        }
        group.get("journal") { request, context in
            let principal = try context.require(.read)
            let from = try request.integerQuery("from", in: 1...Int(Int64.max)) ?? 1
            let limit = try request.integerQuery("limit", in: 1...1000) ?? 100
            let transfers = try await store.transfers(tenant: principal.tenant, from: Int64(from), limit: limit)
            return JSONMessage.response(["transfers": .array(transfers.map(SettlementJSON.transfer))])
        }
        addApprovals(to: group)
    }

    private func addApprovals(to group: RouterGroup<APIContext>) {
        group.get("approvals") { _, context in
            let principal = try context.require(.read)
            return JSONMessage.response(
                ["approvals": .array(try await operations.waitingApprovals(tenant: principal.tenant))])
        }
        group.get("approvals/:id") { _, context in
            let principal = try context.require(.read)
            let id = try context.parameters.require("id")
            if let approval = try await store.taskApproval(id, tenant: principal.tenant) {
                var value = SettlementJSON.approval(approval).objectValue ?? [:]
                value["decisions"] = .array(try await store.decisions(on: id).map(SettlementJSON.approval))
                return JSONMessage.response(.object(value))
            }
            guard let (settlement, _, decisions) = try await store.settlement(id, tenant: principal.tenant) else {
                throw Problem.notFound("approval \(id)")
            }
            var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
            value["kind"] = "settlement"
            value["decisions"] = .array(decisions.map(SettlementJSON.approval))
            return JSONMessage.response(.object(value))
        }
        for decision in [ApprovalRecord.Decision.approve, .reject] {
            group.post("approvals/:id/\(decision.rawValue)") { request, context in
                let principal = try context.require(.approve)
                let id = try context.parameters.require("id")
                let body = try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true)
                try JSONMessage.checkMembers(body, allowed: ["role", "reason"], in: "the decision")
                return JSONMessage.response(
                    try await operations.decide(
                        id, decision, role: body["role"]?.stringValue, reason: body["reason"]?.stringValue,
                        by: principal))
            }
        }
    }

    /// The approval role a decision is made in: the one the body names, which the token must
    /// grant (`approves_as`), or the token's only one.
    static func approvalRole(_ asked: String?, of principal: Principal) throws -> String {
        let granted = principal.approvalRoles.sorted()
        if let asked {
            guard principal.approvalRoles.contains(asked) else {
                throw Problem(
                    .forbidden, "forbidden",
                    "\(principal.subject) may not approve as '\(asked)'; the token grants: \(granted.isEmpty ? "none" : granted.joined(separator: ", "))"
                )
            }
            return asked
        }
        guard granted.count == 1 else {
            throw Problem(
                .unprocessableContent, "validation-failed",
                granted.isEmpty
                    ? "the token grants no approval role (approves_as); issue one with uaef tokens issue --approves-as ROLE"
                    : "role: required, one of \(granted.joined(separator: ", "))")
        }
        return granted[0]
    }
}
