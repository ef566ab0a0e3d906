import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// `/v1/secrets`: credentials that `command` and `http` agents name as `{"$secret": "NAME"}`,
/// sealed with AES-GCM under the server's master key. Values go in and are never read back out.
struct SecretRoutes {
    let runtime: ServerRuntime
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.put("secrets/:name") { request, context in
            let principal = try context.require(.manageSecrets)
            let name = try context.parameters.require("name")
            let body = try await JSONMessage.object(of: request, limit: bodyLimit)
            try JSONMessage.checkMembers(body, allowed: ["value"], in: "the secret")
            guard let value = body["value"]?.stringValue, !value.isEmpty else {
                throw Problem(.unprocessableContent, "validation-failed", "value: required, the secret as a string")
            }
            do {
                let record = try await runtime.engine(for: principal.tenant).setSecret(
                    name, value: value, actor: principal.actor)
                return JSONMessage.response(SecretReport.json(record))
            } catch let failure as SecretBox.Failure {
                throw Problem(.conflict, "no-master-key", failure.description)
            }
        }
        group.get("secrets") { _, context in
            let principal = try context.require(.manageSecrets)
            let secrets = try await runtime.engine.store.secrets(tenant: principal.tenant)
            return JSONMessage.response(["secrets": .array(secrets.map(SecretReport.json))])
        }
        group.delete("secrets/:name") { _, context in
            let principal = try context.require(.manageSecrets)
            let name = try context.parameters.require("name")
            guard try await runtime.engine(for: principal.tenant).deleteSecret(name, actor: principal.actor) else {
                throw Problem.notFound("secret \(name)")
            }
            return Response(status: .noContent)
        }
    }
}
