import Foundation
import Logging
import UAEFCore
import UAEFStore

/// An attempt executed away from the process orchestrating its run: queued in the store once,
/// claimed with a lease by a remote agent (over the HTTP API) or by a worker that serves its
/// capability, and awaited here. When the attempt ends first (timeout, run cancelled) the queued
/// task is cancelled, so the claimant's late completion is refused.
struct QueuedAttempt: Sendable {
    let store: any WorkflowStore
    /// How often the waiting attempt looks for the outcome.
    let pollInterval: Duration

    /// Queues `request`, assigned to `agent`, for `placement`, and returns the claimant's output.
    func run(
        _ request: AttemptRequest, agent: AgentRecord, placement: RemoteTaskRecord.Placement, logger: Logger
    ) async throws -> JSONValue {
        var random = SeededRandom.system()
        let now = Date()
        let task = try await store.enqueueRemoteTask(
            RemoteTaskRecord(
                id: "rtk_" + SortableID.make(at: now, using: &random), tenant: request.tenant, placement: placement,
                agentID: agent.id, kind: agent.kind, runID: request.runID, workflow: request.workflow,
                key: request.key, capability: request.capability, attempt: request.attempt,
                idempotencyKey: request.idempotencyKey, input: request.parameters, createdAt: now, updatedAt: now))
        logger.info(
            "queued",
            metadata: ["remote_task": "\(task.id)", "agent": "\(agent.name)", "placement": "\(placement.rawValue)"])
        do {
            while true {
                guard let current = try await store.remoteTask(task.id, tenant: request.tenant) else {
                    throw AgentFailure("remote task \(task.id) disappeared from the store")
                }
                switch current.status {
                case .succeeded:
                    return current.output ?? .null
                case .failed:
                    let message = current.error ?? "failed without a message"
                    // A worker ran the agent's own kind: its message reads as if run here.
                    throw AgentFailure(
                        placement == .agent ? "\(agent.name): \(message)" : message, retryable: current.retryable)
                case .cancelled:
                    throw AgentFailure("remote task \(task.id) was cancelled")
                case .queued, .claimed:
                    try await Task.sleep(for: pollInterval)
                }
            }
        } catch  where Task.isCancelled {
            // This task is cancelled, so a store call made from it would be refused: the
            // cancellation is written from a task of its own.
            let (store, key, tenant) = (store, request.idempotencyKey, request.tenant)
            await Task { try? await store.cancelRemoteTasks(idempotencyKeys: [key], tenant: tenant, now: Date()) }.value
            throw CancellationError()
        }
    }
}

/// What executes an attempt whose capability the orchestrating process does not serve (a
/// worker started with `--capability`): the attempt is queued for a worker that serves it.
struct WorkerDispatch: AgentKind {
    let queue: QueuedAttempt

    /// Not a kind workflows name: the runner picks it in place of the agent's own kind.
    var name: String { "worker-dispatch" }
    var parameters: WorkflowCatalog.ParameterSpec { .init(allowsAnyKey: true) }

    func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let agent = request.agent else {
            throw AgentFailure("a task without a capability runs where its run is orchestrated", retryable: false)
        }
        return try await queue.run(request, agent: agent, placement: .worker, logger: logger)
    }
}
