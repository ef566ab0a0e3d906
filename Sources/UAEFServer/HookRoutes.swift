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
            var used: [(name: String, value: String)] = []
            let settings: [String: JSONValue]
            do {
                settings =
                    try await SecretResolver(store: engine.store, box: engine.configuration.secrets).resolve(
                        .object(connector.settings), tenant: tenant, used: &used
                    ).objectValue ?? [:]
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
            let data = InboundWebhook.data(of: message)
            let key = "hook:\(connector.name):\(id)"
            let actor = "hook:\(connector.name)"
            switch trigger {
            case .run(let workflow, let input):
                let start = try await engine.start(
                    Engine.RunRequest(workflow: workflow, inputs: [input: data], idempotencyKey: key),
                    actor: actor, leased: true)
                if let created = start.createdRecord {
                    executor.execute(created, definition: start.definition, engine: engine)
                }
                return JSONMessage.response(
                    ["run_id": .string(start.run.rawValue), "replayed": .bool(!start.created)],
                    status: start.created ? .accepted : .ok)
            case .signal(let signal):
                guard let members = data.objectValue else {
                    throw Problem(
                        .unprocessableContent, "validation-failed", "a signal's data must be a JSON object")
                }
                let result = try await engine.signal(signal, data: members, idempotencyKey: key, actor: actor)
                await ledgerChanges.mark(tenant)
                return JSONMessage.response(
                    ["seq": .number(Number(Int(result.seq))), "replayed": .bool(result.replayed)],
                    status: result.replayed ? .ok : .accepted)
            }
        }
    }
}
