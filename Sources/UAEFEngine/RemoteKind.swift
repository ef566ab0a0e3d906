import Foundation
import Logging
import UAEFCore
import UAEFStore

/// The `remote` agent kind: the attempt is queued for a registered agent that runs elsewhere (any
/// language, any machine), which claims it over the HTTP API with a lease, heartbeats, and
/// completes or fails it. The task's `timeout` bounds the wait; when the attempt ends first (timeout,
/// run cancelled) its remote task is cancelled and a late completion is refused.
///
/// ```yaml
/// agents:
///   - {name: ocr-farm, kind: remote, capabilities: [ocr], max_concurrency: 8, activate: true}
/// ```
public struct RemoteKind: AgentKind {
    let store: any WorkflowStore
    /// How often the waiting attempt looks for the agent's result.
    let pollInterval: Duration

    public init(store: any WorkflowStore, pollInterval: Duration = .milliseconds(100)) {
        self.store = store
        self.pollInterval = pollInterval
    }

    public var name: String { "remote" }

    /// The agent's configuration and the task's `with` are handed to the agent as its input.
    public var parameters: WorkflowCatalog.ParameterSpec { .init(allowsAnyKey: true) }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let agent = request.agent else {
            throw AgentFailure(
                "remote: a remote task needs a registered agent; give the task a capability that a remote agent offers",
                retryable: false)
        }
        var random = SeededRandom.system()
        let now = Date()
        let task = try await store.enqueueRemoteTask(
            RemoteTaskRecord(
                id: "rtk_" + SortableID.make(at: now, using: &random), tenant: request.tenant, agentID: agent.id,
                runID: request.runID, workflow: request.workflow, key: request.key, capability: request.capability,
                attempt: request.attempt,
                idempotencyKey: request.idempotencyKey, input: request.parameters, createdAt: now, updatedAt: now))
        logger.info("queued for a remote agent", metadata: ["remote_task": "\(task.id)", "agent": "\(agent.name)"])
        do {
            while true {
                guard let current = try await store.remoteTask(task.id, tenant: request.tenant) else {
                    throw AgentFailure("remote task \(task.id) disappeared from the store")
                }
                switch current.status {
                case .succeeded:
                    return current.output ?? .null
                case .failed:
                    throw AgentFailure(
                        "\(agent.name): \(current.error ?? "failed without a message")", retryable: current.retryable)
                case .cancelled:
                    throw AgentFailure("remote task \(task.id) was cancelled")
                case .queued, .claimed:
                    try await Task.sleep(for: pollInterval)
                }
            }
        } catch is CancellationError {
            // The attempt ended first: the agent's late completion must not count.
            try? await store.cancelRemoteTask(idempotencyKey: request.idempotencyKey, now: Date())
            throw CancellationError()
        }
    }
}
