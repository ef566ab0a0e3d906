import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFStore

/// `/v1/workflows`: register definitions (YAML or JSON; each new source is the next version),
/// list them, read one with its versions.
struct WorkflowRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.post("workflows") { request, context in
            let principal = try context.require(.writeWorkflows)
            let source = try await JSONMessage.text(of: request, limit: bodyLimit)
            let registration = try await operations.registerWorkflow(source, origin: "request body", by: principal)
            return JSONMessage.response(
                Self.json(registration.workflow, source: false), status: registration.created ? .created : .ok,
                headers: [.location: "/v1/workflows/\(registration.workflow.name)"])
        }
        group.get("workflows") { _, context in
            let principal = try context.require(.read)
            return JSONMessage.response(try await operations.workflows(tenant: principal.tenant))
        }
        group.get("workflows/:name") { request, context in
            let principal = try context.require(.read)
            let name = try context.parameters.require("name")
            let version = try request.integerQuery("version", in: 1...Int(Int32.max))
            return JSONMessage.response(
                try await operations.workflow(named: name, version: version, tenant: principal.tenant))
        }
    }

    /// `{"name", "version", "sha256", "created_at", "created_by"}`, with `source` when asked.
    static func json(_ workflow: WorkflowRecord, source: Bool) -> JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(workflow.name), "version": .number(Number(workflow.version)),
            "sha256": .string(workflow.sha256), "created_at": .string(Timestamp.format(workflow.createdAt)),
            "created_by": .string(workflow.createdBy),
        ]
        if source { members["source"] = .string(workflow.source) }
        return .object(members)
    }
}
