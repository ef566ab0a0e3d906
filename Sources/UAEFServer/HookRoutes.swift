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
    /// Webhook connectors recently used, by tenant and name.
    let receivers = BoundedCache<Receiver>(capacity: 10_000)

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
                let hook = try await receiver(name, tenant: tenant, engine: engine, logger: context.logger)
            else {
                // Counted like a refused signature, so connector names cannot be guessed at speed.
                _ = failures.take(client)
                throw Problem.notFound(
                    "webhook connector \(name.prefix(64)) with a trigger in tenant \(tenant.prefix(64))")
            }
            let (connector, routes, settings) = (hook.connector, hook.routes, hook.settings)
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
    /// A webhook connector with routes, its secrets opened: what checking a message needs.
    struct Receiver: Sendable {
        var connector: ConnectorRecord
        var routes: TriggerRoutes
        var settings: [String: JSONValue]
        var loadedAt: ContinuousClock.Instant
    }

    /// How long a receiver is used before it is read again: a changed connector or secret takes
    /// effect within this.
    static let receiverLifetime = Duration.seconds(1)

    /// The tenant's webhook connector `name` with a trigger or a workflow triggering on it, or
    /// nil. The connector and its opened secrets are kept for a second, so a burst of messages
    /// reads them once; its routes are asked for each message (the workflows' triggers are
    /// indexed apart, and a workflow registered here takes effect at once).
    func receiver(_ name: String, tenant: String, engine: Engine, logger: Logger) async throws -> Receiver? {
        let key = tenant + "\u{0}" + name
        let known = receivers.value(for: key).flatMap {
            ContinuousClock.now - $0.loadedAt < Self.receiverLifetime ? $0 : nil
        }
        let found: ConnectorRecord?
        if let known {
            found = known.connector
        } else {
            found = try await engine.store.connector(named: name, tenant: tenant)
        }
        guard let connector = found, connector.kind == ConnectorDefinition.Kind.webhook.rawValue
        else {
            receivers.forget(key)
            return nil
        }
        let routes = try await TriggerRoutes.of(connector, index: runtime.workflowTriggers)
        guard !routes.isEmpty else { return nil }
        if var known {
            known.routes = routes
            return known
        }
        do {
            let settings = try await ResolvedConnector.resolve(
                connector, kind: .webhook,
                resolver: SecretResolver(store: engine.store, box: engine.configuration.secrets), caller: "hook"
            ).settings
            let receiver = Receiver(connector: connector, routes: routes, settings: settings, loadedAt: .now)
            receivers.keep(receiver, for: key)
            return receiver
        } catch let failure as AgentFailure {
            // The cause (an unset secret, no master key) is the operator's to see, not the sender's.
            logger.error(
                "webhook connector cannot verify messages",
                metadata: ["connector": "\(connector.name)", "tenant": "\(tenant)", "error": "\(failure.message)"])
            throw Problem(
                .serviceUnavailable, "connector-unavailable",
                "\(connector.name) cannot verify messages on this server now; its operators can see why in the server log"
            )
        }
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
