import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

/// `POST /v1/hooks/{tenant}/{connector}`: a message from another system for a webhook connector
/// with a `trigger`. No token: the connector's signature scheme authenticates the sender (a bad
/// or stale signature is a 401 and counts against the sender's address like a failed token).
/// The message's id is the idempotency key, so a redelivered message starts nothing new.
struct HookRoutes {
    let runtime: ServerRuntime
    /// Executes the runs messages start here, or nil to leave them to the workers.
    let executor: RunExecutor?
    /// Told of each run left to the workers (no ``executor``), so that something executes it soon.
    let announcer: (any RunAnnouncer)?
    let ledgerChanges: LedgerChanges
    let failures: RateLimiter
    let bodyLimit: Int
    /// Webhook connectors recently used.
    let receivers = InboundConnectors()

    func add(to router: Router<APIContext>) {
        router.post("v1/hooks/:tenant/:connector") { request, context in
            let client = context.clientAddress ?? "unknown"
            if let wait = failures.waitIfEmpty(client) {
                throw Problem.tooManyRequests("too many refused webhook messages from \(client)", retryAfter: wait)
            }
            let tenant = try context.parameters.require("tenant")
            let name = try context.parameters.require("connector")
            let engine = runtime.engine(for: tenant)
            guard TenantName.isValid(tenant), ConnectorDefinition.isValidName(name),
                let hook = try await receiver(name, engine: engine, logger: context.logger)
            else {
                // Counted like a refused signature, so connector names cannot be guessed at speed.
                _ = failures.take(client)
                throw Problem.notFound(
                    "webhook connector \(name.prefix(64)) with a trigger in tenant \(tenant.prefix(64))")
            }
            let (connector, routes, settings) = (hook.connector.record, hook.routes, hook.connector.settings)
            let body = Array(buffer: try await request.body.collect(upTo: bodyLimit))
            let id: String
            do {
                id = try InboundWebhook.verify(
                    settings: settings, header: { HTTPField.Name($0).flatMap { request.headers[$0] } }, body: body,
                    now: Date())
            } catch {
                _ = failures.take(client)
                throw Problem(.unauthorized, "invalid-signature", "\(connector.name): \(error)")
            }
            guard let text = String(validating: body, as: UTF8.self), let message = try? JSONValue(jsonText: text)
            else {
                throw Problem(.unprocessableContent, "validation-failed", "the message body is not JSON")
            }
            ConnectorMetrics.count(.received, tenant: tenant, connector: connector.name)
            let dispatch =
                executor.map { TriggerDispatch.server(executor: $0, ledgerChanges: ledgerChanges) }
                ?? announcer.map { announcer in TriggerDispatch(announce: { await announcer.announce($0) }) }
                ?? .queueing
            let outcomes: [TriggerDispatch.Outcome]
            do {
                outcomes = try await dispatch.dispatch(
                    routes, data: InboundWebhook.data(of: message), source: "hook", connector: connector.name, id: id,
                    engine: engine)
                ConnectorMetrics.count(
                    outcomes.isEmpty ? .ignored : .processed, tenant: tenant, connector: connector.name)
            } catch {
                ConnectorMetrics.count(.failed, tenant: tenant, connector: connector.name)
                throw error
            }
            return Self.response(outcomes)
        }
    }
}

extension HookRoutes {
    /// What a message did, as the sender sees it: `runs` it started (each with its workflow)
    /// and the `signal` it sent; with one outcome also its `run_id` or `seq` and `replayed` at the
    /// top. 202 when anything happened for the first time, else 200 (a redelivery, or no
    /// workflow's filter took the message).
    static func response(_ outcomes: [TriggerDispatch.Outcome]) -> Response {
        var runs: [JSONValue] = []
        var body: [String: JSONValue] = [:]
        var created = false
        for outcome in outcomes {
            switch outcome {
            case .run(let run, let workflow, let new):
                created = created || new
                let entry: [String: JSONValue] = [
                    "run_id": .string(run.rawValue), "workflow": .string(workflow), "replayed": .bool(!new),
                ]
                runs.append(.object(entry))
                if outcomes.count == 1 { body.merge(entry) { $1 } }
            case .signal(let seq, let replayed):
                created = created || !replayed
                let entry: [String: JSONValue] = ["seq": .number(Number(Int(seq))), "replayed": .bool(replayed)]
                body["signal"] = .object(entry)
                if outcomes.count == 1 { body.merge(entry) { $1 } }
            }
        }
        body["runs"] = .array(runs)
        return JSONMessage.response(.object(body), status: created ? .accepted : .ok)
    }
}

extension HookRoutes {
    /// The tenant's webhook connector `name` with a trigger or a workflow triggering on it, its
    /// secrets opened (kept for a second by ``InboundConnectors``), with its routes, or nil. The
    /// routes are asked for each message (the workflows' triggers are indexed apart, and a
    /// workflow registered here takes effect at once).
    func receiver(_ name: String, engine: Engine, logger: Logger) async throws -> (
        connector: ResolvedConnector, routes: TriggerRoutes
    )? {
        try await receivers.connector(name, kind: .webhook, engine: engine, what: "messages", logger: logger) {
            let routes = try await TriggerRoutes.of($0, index: runtime.workflowTriggers)
            return routes.isEmpty ? nil : routes
        }.map { ($0.connector, $0.extra) }
    }
}

extension TriggerDispatch {
    /// Runs that messages start are executed by this server's executor; signals mark the tenant
    /// for the next settlement pass and checkpoint.
    static func server(executor: RunExecutor, ledgerChanges: LedgerChanges) -> TriggerDispatch {
        TriggerDispatch(
            execute: { start, engine in
                if let created = start.createdRecord {
                    executor.execute(created, definition: start.definition, engine: engine)
                }
            },
            signalled: { engine in await ledgerChanges.mark(engine.tenant) })
    }
}
