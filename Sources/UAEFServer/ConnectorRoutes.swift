import Hummingbird
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

/// `/v1/connectors`: the tenant's webhook, SQS and Service Bus connectors. A connector lets
/// workflows reach other systems, so only admins save or remove them; any reader may list them
/// (their settings hold secret references, never values).
struct ConnectorRoutes {
    let runtime: ServerRuntime
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.post("connectors") { request, context in
            let principal = try context.require(.manageConnectors)
            let text = try await JSONMessage.text(of: request, limit: bodyLimit)
            let (saved, unset) = try await registry(principal.tenant).apply(
                text, file: "request body", actor: principal.actor)
            return JSONMessage.response(
                [
                    "connectors": .array(saved.map(ConnectorJSON.connector)),
                    "unset_secrets": .array(unset.map(JSONValue.string)),
                ], status: .created)
        }
        group.get("connectors") { _, context in
            let principal = try context.require(.read)
            let connectors = try await registry(principal.tenant).list()
            return JSONMessage.response(["connectors": .array(connectors.map(ConnectorJSON.connector))])
        }
        group.get("connectors/:name") { _, context in
            let principal = try context.require(.read)
            let name = try context.parameters.require("name")
            guard let connector = try await registry(principal.tenant).connector(name) else {
                throw Problem.notFound("connector \(name)")
            }
            return JSONMessage.response(ConnectorJSON.connector(connector))
        }
        group.delete("connectors/:name") { _, context in
            let principal = try context.require(.manageConnectors)
            let name = try context.parameters.require("name")
            guard try await registry(principal.tenant).remove(name, actor: principal.actor) else {
                throw Problem.notFound("connector \(name)")
            }
            return Response(status: .noContent)
        }
    }

    private func registry(_ tenant: String) -> ConnectorRegistry {
        ConnectorRegistry(store: runtime.engine.store, tenant: tenant)
    }
}
