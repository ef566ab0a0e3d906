import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// A tool an `llm` agent can give its model.
protocol LLMTool: Sendable {
    var definition: ToolDefinition { get }
    /// Runs the call for the attempt's tenant; what the model gets back, or a failure it reads
    /// as an error result.
    func call(_ input: JSONValue, request: AttemptRequest) async throws -> JSONValue
}

/// The read-only tools over UAEF's own data, scoped to the attempt's tenant.
enum BuiltInTools {
    static func all(store: any WorkflowStore) -> [String: any LLMTool] {
        ["get_run": GetRunTool(store: store), "search_events": SearchEventsTool(store: store)]
    }
}

/// A tool's input the model got wrong: sent back to it as an error result.
struct ToolInputError: Error, CustomStringConvertible {
    var description: String
}

/// `get_run`: a run's status and its tasks' status, output and error.
struct GetRunTool: LLMTool {
    let store: any WorkflowStore

    var definition: ToolDefinition {
        ToolDefinition(
            name: "get_run",
            description: "Read a UAEF run: its workflow, status, and each task's status, output and error.",
            inputSchema: [
                "type": "object",
                "properties": ["run_id": ["type": "string", "description": "The run's id (run_...)"]],
                "required": ["run_id"], "additionalProperties": false,
            ])
    }

    func call(_ input: JSONValue, request: AttemptRequest) async throws -> JSONValue {
        guard let id = input["run_id"]?.stringValue, id.count <= 100 else {
            throw ToolInputError(description: "run_id must be a run id such as run_01J...")
        }
        guard let snapshot = try await store.snapshot(of: RunID(id), tenant: request.tenant) else {
            throw ToolInputError(description: "no run \(id)")
        }
        var tasks: [String: JSONValue] = [:]
        for task in snapshot.tasks where task.instanceCount == nil {
            var entry: [String: JSONValue] = ["status": .string(task.status.rawValue)]
            if let output = task.output { entry["output"] = output }
            if let error = task.error { entry["error"] = .string(error) }
            tasks[task.key] = .object(entry)
        }
        return [
            "run_id": .string(id), "workflow": .string(snapshot.run.workflowName),
            "status": .string(snapshot.run.status.rawValue), "tasks": .object(tasks),
        ]
    }
}

/// `search_events`: the tenant's most recent events, by type and subject prefix.
struct SearchEventsTool: LLMTool {
    let store: any WorkflowStore
    /// How far back from the log's end one search looks.
    static let scanned = 5_000

    var definition: ToolDefinition {
        ToolDefinition(
            name: "search_events",
            description:
                "Search the most recent events of UAEF's ledger (newest first) by type (e.g. run.failed) and subject prefix (e.g. a run id).",
            inputSchema: [
                "type": "object",
                "properties": [
                    "type": ["type": "string"], "subject_prefix": ["type": "string"],
                    "limit": ["type": "integer", "minimum": 1, "maximum": 50],
                ],
                "additionalProperties": false,
            ])
    }

    func call(_ input: JSONValue, request: AttemptRequest) async throws -> JSONValue {
        let type = input["type"]?.stringValue
        let prefix = input["subject_prefix"]?.stringValue
        let limit = min(max(input["limit"]?.numberValue?.intValue ?? 10, 1), 50)
        let end = Int64(try await store.treeHead().size)
        var found: [JSONValue] = []
        var next = max(0, end - Int64(Self.scanned))
        var matches: [EventRecord] = []
        while next < end, let page = try await store.tenantEvents(from: next, scanning: 1_000, tenant: request.tenant) {
            matches += page.records.filter { record in
                (type == nil || record.event.type == type)
                    && (prefix == nil || record.event.subject.hasPrefix(prefix!))
            }
            next = page.next
        }
        for record in matches.suffix(limit).reversed() {
            found.append([
                "seq": .number(Number(Int(record.seq))), "type": .string(record.event.type),
                "time": .string(Timestamp.format(record.event.time)), "actor": .string(record.event.actor),
                "subject": .string(record.event.subject), "data": .object(record.event.data),
            ])
        }
        return ["events": .array(found)]
    }
}
