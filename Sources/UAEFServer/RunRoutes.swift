import HTTPTypes
import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFStore

/// `/v1/runs`: start runs of registered workflows (idempotent under an `Idempotency-Key`), read
/// one, list them a page at a time, cancel one, retry one that failed or was cancelled.
struct RunRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    var runtime: ServerRuntime { operations.runtime }

    func add(to group: RouterGroup<APIContext>) {
        group.post("runs") { request, context in
            let principal = try context.require(.writeRuns)
            let runRequest = try Self.runRequest(
                try await JSONMessage.object(of: request, limit: bodyLimit),
                idempotencyKey: request.headers[.idempotencyKey])
            let start = try await operations.startRun(runRequest, by: principal)
            return JSONMessage.response(
                start.report, status: start.created ? .created : .ok, headers: [.location: "/v1/runs/\(start.run)"])
        }
        group.get("runs/:id") { _, context in
            let principal = try context.require(.read)
            let id = try context.parameters.require("id")
            return JSONMessage.response(text: try await operations.runReport(id, tenant: principal.tenant))
        }
        group.get("runs") { request, context in
            let principal = try context.require(.read)
            let limit = try request.integerQuery("limit", in: 1...1000) ?? 50
            var filter = RunFilter(
                workflow: try request.textQuery("workflow"), parent: try request.textQuery("parent").map(RunID.init),
                before: try request.textQuery("cursor").map(RunID.init))
            if let status = try request.textQuery("status") {
                guard let parsed = RunStatus(rawValue: status) else {
                    let valid = RunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    throw Problem.badRequest("status=\(status) is not a run status; use one of \(valid)")
                }
                filter.status = parsed
            }
            let include = try request.textQuery("include")
            if let include, include != "task_counts" {
                throw Problem.badRequest("include=\(include.prefix(40)) is not known; the one value is task_counts")
            }
            return JSONMessage.response(
                try await operations.runs(
                    matching: filter, limit: limit, taskCounts: include != nil, tenant: principal.tenant))
        }
        group.post("runs/:id/cancel") { request, context in
            let principal = try context.require(.writeRuns)
            let id = try context.parameters.require("id")
            let body = try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true)
            try JSONMessage.checkMembers(body, allowed: ["tree"], in: "the cancel request")
            let tree: Bool
            switch body["tree"] {
            case nil, .null?, .bool(false)?: tree = false
            case .bool(true)?: tree = true
            default: throw Problem(.unprocessableContent, "validation-failed", "tree: must be true or false")
            }
            try await operations.cancelRun(id, tree: tree, by: principal)
            guard let report = try await runtime.engine(for: principal.tenant).report(RunID(id)) else {
                throw Problem.notFound("run \(id)")
            }
            return JSONMessage.response(report, status: .accepted)
        }
        group.post("runs/:id/retry") { request, context in
            let principal = try context.require(.writeRuns)
            let id = try context.parameters.require("id")
            let from = try Self.retryFrom(try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true))
            return JSONMessage.response(try await operations.retryRun(id, from: from, by: principal), status: .accepted)
        }
    }

    /// Reads the optional retry request `{"from"?: [task id]}`: the tasks to run again whatever
    /// they did, naming what is wrong.
    static func retryFrom(_ body: [String: JSONValue]) throws -> [String] {
        try JSONMessage.checkMembers(body, allowed: ["from"], in: "the retry request")
        guard let value = body["from"], value != .null else { return [] }
        let names = value.arrayValue?.compactMap {
            $0.stringValue.flatMap { (1...255).contains($0.unicodeScalars.count) ? $0 : nil }
        }
        guard let names, names.count == value.arrayValue?.count, names.count <= RunRetry.maximumNamedTasks else {
            throw Problem(
                .unprocessableContent, "validation-failed",
                "from: must be a list of at most \(RunRetry.maximumNamedTasks) task ids or fan-out instances (task[i]), each a string of 1 to 255 characters"
            )
        }
        return names
    }

    /// Reads `{"workflow", "version"?, "inputs"?}`, naming any member that is wrong.
    static func runRequest(_ body: [String: JSONValue], idempotencyKey: String?) throws -> Engine.RunRequest {
        try JSONMessage.checkMembers(body, allowed: ["workflow", "version", "inputs"], in: "the run request")
        guard let workflow = body["workflow"]?.stringValue, !workflow.isEmpty else {
            throw Problem(
                .unprocessableContent, "validation-failed", "workflow: required, the name of a registered workflow")
        }
        var version: Int?
        if let value = body["version"], value != .null {
            guard let number = value.numberValue?.intValue, number >= 1 else {
                throw Problem(.unprocessableContent, "validation-failed", "version: must be an integer from 1")
            }
            version = number
        }
        var inputs: [String: JSONValue] = [:]
        if let value = body["inputs"], value != .null {
            guard let object = value.objectValue else {
                throw Problem(
                    .unprocessableContent, "validation-failed", "inputs: must be a JSON object of input values")
            }
            inputs = object
        }
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.utf8.count > 255 {
            throw Problem.badRequest("the Idempotency-Key header must be 1 to 255 bytes")
        }
        if let idempotencyKey, let problem = Engine.RunRequest.reservedKeyProblem(idempotencyKey) {
            throw Problem.badRequest("Idempotency-Key: \(problem)")
        }
        return Engine.RunRequest(workflow: workflow, version: version, inputs: inputs, idempotencyKey: idempotencyKey)
    }
}

extension HTTPField.Name {
    /// `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
