import Foundation
import Logging
import UAEFCore
import UAEFStore

/// The `approval` agent kind: a task that waits until enough principals with a role approve it
/// (`uaef approvals approve ID`), or one rejects it. The same maker-checker rules as for
/// settlements apply: whoever started the run cannot approve. The task's `timeout` bounds the wait.
///
/// ```yaml
/// - id: cfo_sign_off
///   agent: approval
///   with: {role: finance, approvers: 2, message: "Pay ${{ inputs.vendor }} ${{ inputs.total }}?"}
///   timeout: 72h
/// ```
public struct ApprovalKind: AgentKind {
    let store: any WorkflowStore
    /// How often the waiting task looks for decisions.
    let pollInterval: Duration

    public init(store: any WorkflowStore, pollInterval: Duration = .milliseconds(250)) {
        self.store = store
        self.pollInterval = pollInterval
    }

    public var name: String { "approval" }

    /// It only waits on the store, so it runs where the run is orchestrated.
    public var waitsOnStore: Bool { true }

    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["role"], optional: ["approvers", "message"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let role = request.parameters["role"]?.stringValue, !role.isEmpty else {
            throw AgentFailure("approval: role must name the role approvers hold", retryable: false)
        }
        let approvers = request.parameters["approvers"]?.numberValue?.intValue ?? 1
        guard (1...10).contains(approvers) else {
            throw AgentFailure("approval: approvers must be a whole number from 1 to 10", retryable: false)
        }
        let message = request.parameters["message"].map(Template.text) ?? "Approve \(request.workflow) \(request.key)"
        let maker = try await store.run(request.runID, tenant: request.tenant)?.createdBy ?? "unknown"
        // One request per attempt, also when a resumed run executes the attempt again.
        let approval = try await store.settle(tenant: request.tenant, now: Date()) { transaction in
            if let existing = try transaction.taskApproval(attemptKey: request.idempotencyKey) { return existing }
            var events = TransactionEvents(transaction, actor: "engine")
            let approval = TaskApprovalRecord(
                id: events.newID("apr_"), tenant: request.tenant, runID: request.runID, key: request.key,
                attemptKey: request.idempotencyKey, role: role, approvers: approvers, message: message, maker: maker,
                status: .pending, createdAt: transaction.now, updatedAt: transaction.now)
            try transaction.saveTaskApproval(approval)
            let event = events.event(
                "approval.requested", subject: "\(request.runID.rawValue)/\(request.key)",
                [
                    "approval": .string(approval.id), "role": .string(role), "approvers": .number(Number(approvers)),
                    "message": .string(message),
                ])
            try transaction.append([event])
            return approval
        }
        logger.info("waiting for approval", metadata: ["approval": "\(approval.id)", "task": "\(request.key)"])
        while true {
            guard let current = try await store.taskApproval(approval.id, tenant: request.tenant) else {
                throw AgentFailure("approval \(approval.id) disappeared from the store")
            }
            switch current.status {
            case .approved:
                return ["approved": true, "approval": .string(approval.id)]
            case .rejected:
                throw AgentFailure(
                    "rejected: \(current.reason ?? "no reason given") (approval \(approval.id))", retryable: false)
            case .pending:
                try await Task.sleep(for: pollInterval)
            case .expired:
                throw AgentFailure("approval \(approval.id) expired", retryable: false)
            }
        }
    }
}
