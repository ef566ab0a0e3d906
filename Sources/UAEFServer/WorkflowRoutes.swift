import Hummingbird
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

/// `/v1/workflows`: register definitions (YAML or JSON; each new source is the next version),
/// list them, read one with its versions.
struct WorkflowRoutes {
    let runtime: ServerRuntime
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.post("workflows") { request, context in
            let principal = try context.require(.writeWorkflows)
            let source = try await JSONMessage.text(of: request, limit: bodyLimit)
            let registration = try await runtime.engine(for: principal.tenant).register(
                source, origin: "request body", actor: principal.actor)
            if registration.created { runtime.workflowTriggers.forget(tenant: principal.tenant) }
            return JSONMessage.response(
                Self.json(registration.workflow, source: false), status: registration.created ? .created : .ok,
                headers: [.location: "/v1/workflows/\(registration.workflow.name)"])
        }
        group.get("workflows") { _, context in
            let principal = try context.require(.read)
            let workflows = try await runtime.engine.store.workflows(tenant: principal.tenant)
            return JSONMessage.response(["workflows": .array(workflows.map { Self.json($0, source: false) })])
        }
        group.get("workflows/:name") { request, context in
            let principal = try context.require(.read)
            let name = try context.parameters.require("name")
            let versions = try await runtime.engine.store.workflowVersions(named: name, tenant: principal.tenant)
            guard let latest = versions.last else { throw Problem.notFound("workflow '\(name)'") }
            let shown: WorkflowRecord
            if let version = try request.integerQuery("version", in: 1...Int(Int32.max)) {
                guard let match = versions.first(where: { $0.version == version }) else {
                    throw Problem.notFound("version \(version) of workflow '\(name)' (latest: \(latest.version))")
                }
                shown = match
            } else {
                shown = latest
            }
            var body = Self.json(shown, source: true).objectValue ?? [:]
            body["versions"] = .array(versions.map { Self.json($0, source: false) })
            return JSONMessage.response(.object(body))
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
