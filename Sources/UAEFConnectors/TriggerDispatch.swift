import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement

/// Turns a message that arrived at a connector into what the connector's trigger asks for,
/// exactly once per message id: a run of a workflow (started under the idempotency key
/// `<source>:<connector>:<id>`, so the same message again finds the run it started) or a
/// signal (recorded under that key). Shared by inbound webhooks, SQS and Service Bus.
public struct TriggerDispatch: Sendable {
    /// What a message did.
    public enum Outcome: Sendable, Equatable {
        /// A run: `created` is false when the message had already started it.
        case run(RunID, created: Bool)
        /// A signal's ledger sequence number: `replayed` when the message had already sent it.
        case signal(seq: Int64, replayed: Bool)
    }

    /// Called with a run this process created and holds the lease of, to execute it.
    let execute: @Sendable (Engine.RunStart, Engine) -> Void
    /// Called after a signal was recorded (its settlements may need a checkpoint).
    let signalled: @Sendable (Engine) async -> Void

    public init(
        execute: @escaping @Sendable (Engine.RunStart, Engine) -> Void,
        signalled: @escaping @Sendable (Engine) async -> Void
    ) {
        self.execute = execute
        self.signalled = signalled
    }

    /// Does what `trigger` says with the message's `data`, on `engine` (the connector's tenant).
    /// `source` names the way in (`hook`, `sqs`, `servicebus`), and with the connector's name
    /// and the message `id` makes the idempotency key and the actor of the events.
    public func dispatch(
        _ trigger: Trigger, data: JSONValue, source: String, connector: String, id: String, engine: Engine
    ) async throws -> Outcome {
        let key = "\(source):\(connector):\(id)"
        let actor = "\(source):\(connector)"
        switch trigger {
        case .run(let workflow, let input):
            let start = try await engine.start(
                Engine.RunRequest(workflow: workflow, inputs: [input: data], idempotencyKey: key),
                actor: actor, leased: true)
            if start.createdRecord != nil { execute(start, engine) }
            return .run(start.run, created: start.created)
        case .signal(let signal):
            guard let members = data.objectValue else {
                throw ValidationFailure(issues: [
                    ValidationIssue(
                        file: connector, line: nil, field: "data", message: "a signal's data must be a JSON object")
                ])
            }
            let result = try await engine.signal(signal, data: members, idempotencyKey: key, actor: actor)
            await signalled(engine)
            return .signal(seq: result.seq, replayed: result.replayed)
        }
    }
}
