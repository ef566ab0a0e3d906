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

    /// It only waits on the store, so it runs where the run is orchestrated.
    public var waitsOnStore: Bool { true }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let agent = request.agent else {
            throw AgentFailure(
                "remote: a remote task needs a registered agent; give the task a capability that a remote agent offers",
                retryable: false)
        }
        return try await QueuedAttempt(store: store, pollInterval: pollInterval).run(
            request, agent: agent, placement: .agent, logger: logger)
    }
}
