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
    let executor: RunExecutor
    let ledgerChanges: LedgerChanges
    let failures: RateLimiter
    let bodyLimit: Int

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
                let connector = try await engine.store.connector(named: name, tenant: tenant),
                connector.kind == ConnectorDefinition.Kind.webhook.rawValue,
                let trigger = connector.settings["trigger"].flatMap(Trigger.init)
            else {
                // Counted like a refused signature, so connector names cannot be guessed at speed.
                _ = failures.take(client)
                throw Problem.notFound(
                    "webhook connector \(name.prefix(64)) with a trigger in tenant \(tenant.prefix(64))")
            }
            let body = Array(buffer: try await request.body.collect(upTo: bodyLimit))
            let settings: [String: JSONValue]
            do {
                settings = try await ResolvedConnector.resolve(
                    connector, kind: .webhook,
                    resolver: SecretResolver(store: engine.store, box: engine.configuration.secrets), caller: "hook"
                ).settings
            } catch let failure as AgentFailure {
                // The cause (an unset secret, no master key) is the operator's to see, not the sender's.
                context.logger.error(
                    "webhook connector cannot verify messages",
                    metadata: ["connector": "\(connector.name)", "tenant": "\(tenant)", "error": "\(failure.message)"])
                throw Problem(
                    .serviceUnavailable, "connector-unavailable",
                    "\(connector.name) cannot verify messages on this server now; its operators can see why in the server log"
                )
            }
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
            let dispatch = TriggerDispatch.server(executor: executor, ledgerChanges: ledgerChanges)
            switch try await dispatch.dispatch(
                trigger, data: InboundWebhook.data(of: message), source: "hook", connector: connector.name, id: id,
                engine: engine)
            {
            case .run(let run, let created):
                return JSONMessage.response(
                    ["run_id": .string(run.rawValue), "replayed": .bool(!created)], status: created ? .accepted : .ok)
            case .signal(let seq, let replayed):
                return JSONMessage.response(
                    ["seq": .number(Number(Int(seq))), "replayed": .bool(replayed)],
                    status: replayed ? .ok : .accepted)
            }
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
