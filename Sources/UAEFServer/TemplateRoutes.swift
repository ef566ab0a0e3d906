import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTemplates

/// `/v1/templates`: the workflow templates this server offers (built in, and the operator's
/// `--templates` directory). Any reader lists and reads them; making a workflow from one
/// registers it, so that needs `writeWorkflows`, as registering any workflow does.
struct TemplateRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.get("templates") { _, context in
            _ = try context.require(.read)
            return JSONMessage.response(operations.templateList())
        }
        group.get("templates/:name") { _, context in
            _ = try context.require(.read)
            let name = try context.parameters.require("name")
            return JSONMessage.response(try operations.template(named: name).json(source: true))
        }
        group.post("templates/:name/workflows") { request, context in
            let principal = try context.require(.writeWorkflows)
            let name = try context.parameters.require("name")
            _ = try operations.template(named: name)
            let body = try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true)
            let use = try TemplateUse(body)
            let made = try await operations.useTemplate(name, use, by: principal)
            guard let registered = made.registered else { return JSONMessage.response(made.report) }
            return JSONMessage.response(
                made.report, status: registered.created ? .created : .ok,
                headers: [.location: "/v1/workflows/\(registered.workflow.name)"])
        }
    }
}

/// A request to make a workflow from a template: `{"name"?, "parameters"?, "dry_run"?, "replace"?}`.
struct TemplateUse: Sendable {
    /// The workflow's name; nil for the template's.
    var workflowName: String?
    var parameters: [String: JSONValue]
    /// True to validate and show the workflow without registering it.
    var dryRun: Bool
    /// True to register it even over a workflow of that name that the template did not make.
    var replace: Bool

    init(
        workflowName: String? = nil, parameters: [String: JSONValue] = [:], dryRun: Bool = false, replace: Bool = false
    ) {
        self.workflowName = workflowName
        self.parameters = parameters
        self.dryRun = dryRun
        self.replace = replace
    }

    /// Reads the request body (or an MCP tool's arguments), refusing unknown members and wrong types.
    init(_ body: [String: JSONValue]) throws {
        try JSONMessage.checkMembers(body, allowed: ["name", "parameters", "dry_run", "replace"], in: "the request")
        func refuse(_ message: String) -> Problem { Problem(.unprocessableContent, "validation-failed", message) }
        switch body["name"] {
        case nil, .null?: workflowName = nil
        case .string(let name)?: workflowName = name
        default: throw refuse("name: expected the workflow's name as text")
        }
        switch body["parameters"] {
        case nil, .null?: parameters = [:]
        case .object(let values)?: parameters = values
        default: throw refuse("parameters: expected an object of parameter names to values")
        }
        func flag(_ key: String) throws -> Bool {
            switch body[key] {
            case nil, .null?: return false
            case .bool(let flag)?: return flag
            default: throw refuse("\(key): expected true or false")
            }
        }
        dryRun = try flag("dry_run")
        replace = try flag("replace")
    }
}
