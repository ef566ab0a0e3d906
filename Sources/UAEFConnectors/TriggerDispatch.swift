import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

/// Where a message arriving at a connector goes: the connector's own `trigger` (a run or a
/// signal) and every workflow whose `triggers:` name the connector and accept the message.
public struct TriggerRoutes: Sendable {
    /// The connector's `trigger` setting, if it has one.
    public var connector: Trigger?
    /// Workflows triggering on the connector (one that the connector's own trigger already
    /// starts is not started twice).
    public var workflows: [WorkflowTriggerIndex.Target]

    public init(connector: Trigger?, workflows: [WorkflowTriggerIndex.Target]) {
        self.connector = connector
        self.workflows = workflows
    }

    /// The routes of `record`'s messages: its trigger and `index`'s workflows on it.
    public static func of(_ record: ConnectorRecord, index: WorkflowTriggerIndex) async throws -> TriggerRoutes {
        TriggerRoutes(
            connector: record.settings["trigger"].flatMap(Trigger.init),
            workflows: try await index.targets(on: record.name, tenant: record.tenant))
    }

    /// True when no message can go anywhere.
    public var isEmpty: Bool { connector == nil && workflows.isEmpty }
}

/// Turns a message that arrived at a connector into what its routes ask for, exactly once per
/// message id and route: runs of workflows and a signal. The connector's own trigger acts under
/// the idempotency key `<source>:<connector>:<id>` and a workflow's trigger under
/// `<source>:<connector>/<workflow>:<id>` (connector names hold no `/` or `:`, so the two never
/// meet), so the same message again finds what it started. Shared by inbound webhooks, SQS and
/// Service Bus.
public struct TriggerDispatch: Sendable {
    /// What a message did on one route.
    public enum Outcome: Sendable, Equatable {
        /// A run of `workflow`: `created` is false when the message had already started it.
        case run(RunID, workflow: String, created: Bool)
        /// A signal's ledger sequence number: `replayed` when the message had already sent it.
        case signal(seq: Int64, replayed: Bool)
    }

    /// Whether this process takes the lease of the runs it starts, to execute them itself.
    let leased: Bool
    /// Called with a run this process created and holds the lease of, to execute it.
    let execute: @Sendable (Engine.RunStart, Engine) -> Void
    /// Called after a signal was recorded (its settlements may need a checkpoint).
    let signalled: @Sendable (Engine) async -> Void
    /// Told of each run created without a lease, so that something executes it soon.
    let announce: @Sendable (RunRecord) async -> Void

    /// Runs are started leased and handed to `execute`; `signalled` follows each signal.
    public init(
        execute: @escaping @Sendable (Engine.RunStart, Engine) -> Void,
        signalled: @escaping @Sendable (Engine) async -> Void
    ) {
        self.leased = true
        self.execute = execute
        self.signalled = signalled
        announce = { _ in }
    }

    /// Runs are started without a lease, for any runner of their tenant to claim, and each new
    /// one is handed to `announce` (the `api` Lambda function puts it on the work queue).
    public init(announce: @escaping @Sendable (RunRecord) async -> Void) {
        leased = false
        execute = { _, _ in }
        signalled = { _ in }
        self.announce = announce
    }

    /// Runs are started without a lease, for any runner of their tenant to claim (`uaef worker`
    /// on PostgreSQL hears of them at once); signals need nothing more.
    public static let queueing = TriggerDispatch(announce: { _ in })

    /// Does what `routes` say with the message's `data`, on `engine` (the connector's tenant),
    /// one route after another; the outcomes in route order (none when every workflow's filter
    /// declined the message). `source` names the way in (`hook`, `sqs`, `servicebus`), and with
    /// the connector's name and the message `id` makes the idempotency keys and the actor of the
    /// events. A failure leaves what earlier routes did in place: the message again finds it.
    public func dispatch(
        _ routes: TriggerRoutes, data: JSONValue, source: String, connector: String, id: String, engine: Engine
    ) async throws -> [Outcome] {
        let actor = "\(source):\(connector)"
        var outcomes: [Outcome] = []
        var started: Set<String> = []
        switch routes.connector {
        case .run(let workflow, let input)?:
            started.insert(workflow)
            outcomes.append(
                try await run(workflow, input: input, data: data, key: "\(actor):\(id)", actor: actor, engine: engine))
        case .signal(let signal)?:
            guard let members = data.objectValue else {
                throw ValidationFailure(issues: [
                    ValidationIssue(
                        file: connector, line: nil, field: "data", message: "a signal's data must be a JSON object")
                ])
            }
            let result = try await engine.signal(signal, data: members, idempotencyKey: "\(actor):\(id)", actor: actor)
            await signalled(engine)
            outcomes.append(.signal(seq: result.seq, replayed: result.replayed))
        case nil: break
        }
        for target in routes.workflows where target.trigger.accepts(data) && started.insert(target.workflow).inserted {
            outcomes.append(
                try await run(
                    target.workflow, input: target.trigger.input, data: data,
                    key: "\(source):\(connector)/\(target.workflow):\(id)", actor: actor, engine: engine))
        }
        return outcomes
    }

    private func run(
        _ workflow: String, input: String, data: JSONValue, key: String, actor: String, engine: Engine
    ) async throws -> Outcome {
        let start = try await engine.start(
            Engine.RunRequest(workflow: workflow, inputs: [input: data], idempotencyKey: key), actor: actor,
            leased: leased)
        if let created = start.createdRecord {
            if leased { execute(start, engine) } else { await announce(created) }
        }
        return .run(start.run, workflow: workflow, created: start.created)
    }
}
