import Foundation
import Logging
import UAEFCore
import UAEFStore

/// Calls a capability from inside another attempt, as kinds that use agents as tools do (an
/// `llm` agent's capability tools): picks an active agent of the tenant that offers the
/// capability, executes its kind in this process with the call's input as parameters, except
/// that what the agent's configuration sets stays as configured (a model, steered by the data
/// it reads, must not replace a `command` agent's program or an `http` agent's URL), and tries a retryable failure again (three tries, one then two seconds apart).
/// Each try has its own idempotency key, `<key>/<try>`, the same whenever the call is repeated.
public struct CapabilityInvoker: Sendable {
    let store: any WorkflowStore
    let kinds: AgentKindRegistry
    /// Tries per call and the wait before the second (doubling after).
    static let tries = 3
    static let firstBackoff = Duration.seconds(1)

    /// An invoker executing `store`'s agents with `kinds` (prepared as an engine prepares them:
    /// ``Engine/prepare(_:store:secrets:)``).
    public init(store: any WorkflowStore, kinds: AgentKindRegistry) {
        self.store = store
        self.kinds = kinds
    }

    /// What a call came to.
    public struct Outcome: Sendable {
        public var output: JSONValue
        /// The agent that did the work.
        public var agent: String
        public var tries: Int
    }

    /// Runs `capability` with `input` for `parent`'s tenant and run; `key` names the call within
    /// the parent (its idempotency key is `<run>/<key>/<try>`). Throws ``AgentFailure`` with the
    /// last try's message when every try failed or none could be made.
    public func invoke(
        _ capability: String, input: [String: JSONValue], for parent: AttemptRequest, key: String, logger: Logger,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws -> Outcome {
        let candidates = try await store.agents(tenant: parent.tenant).filter {
            $0.status == .active && $0.capabilities.contains(capability)
        }
        guard let agent = candidates.randomElement() else {
            throw AgentFailure("no active agent offers capability \(capability)", retryable: false)
        }
        guard let kind = kinds[agent.kind] else {
            throw AgentFailure(
                "agent \(agent.name) is of kind \(agent.kind), which this process cannot execute as a tool",
                retryable: false)
        }
        var backoff = Self.firstBackoff
        var failure = AgentFailure("capability \(capability) was not tried")
        for attempt in 1...Self.tries {
            let request = AttemptRequest(
                runID: parent.runID, tenant: parent.tenant, workflow: parent.workflow, key: "\(parent.key)/\(key)",
                taskID: parent.taskID, attempt: attempt,
                idempotencyKey: "\(parent.runID.rawValue)/\(parent.key)/\(key)/\(attempt)", kind: agent.kind,
                agent: agent, capability: capability,
                parameters: agent.configuration.merging(input) { configured, _ in configured },
                timeout: parent.timeout)
            do {
                // The tool's attempt records itself: the calling attempt's completion is not its own.
                let output = try await CompletionWrites.$current.withValue(nil) {
                    try await kind.execute(request, logger: logger)
                }
                return Outcome(output: output, agent: agent.name, tries: attempt)
            } catch let error as AgentFailure {
                failure = error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failure = AgentFailure("\(error)")
            }
            guard failure.retryable, attempt < Self.tries else { break }
            try await sleep(backoff)
            backoff *= 2
        }
        throw AgentFailure("\(agent.name): \(failure.message)", retryable: false)
    }
}
