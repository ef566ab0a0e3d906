import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFStore

/// A tool an `llm` agent can give its model.
protocol LLMTool: Sendable {
    var definition: ToolDefinition { get }
    /// What every call's event records of the tool itself, whatever the call's outcome.
    var eventDetails: [String: JSONValue] { get }
    /// True when a call may change the world and is not made idempotent by UAEF: it is recorded
    /// as started before it is made, and never made again by a resumed attempt.
    var changesWorld: Bool { get }
    /// Runs the call for the attempt's tenant as conversation step `step`; what the model gets
    /// back (and what the step's event records of it), or a failure it reads as an error result.
    func call(_ input: JSONValue, request: AttemptRequest, step: Int, logger: Logger) async throws -> ToolResult
}

extension LLMTool {
    var eventDetails: [String: JSONValue] { [:] }
    var changesWorld: Bool { false }
}

/// What a tool call gave: the result the model reads, and what the step's event records.
struct ToolResult: Sendable {
    var value: JSONValue
    var details: [String: JSONValue] = [:]
}

/// The read-only tools over UAEF's own data, scoped to the attempt's tenant.
enum BuiltInTools {
    static let names: Set<String> = ["get_run", "search_events"]

    static func tool(_ name: String, store: any WorkflowStore) -> (any LLMTool)? {
        switch name {
        case "get_run": GetRunTool(store: store)
        case "search_events": SearchEventsTool(store: store)
        default: nil
        }
    }
}

/// A UAEF capability as a tool: the call becomes an attempt of an agent offering it, with its
/// own retries, its idempotency key derived from the conversation step.
struct CapabilityTool: LLMTool {
    let capability: String
    let definition: ToolDefinition
    let invoker: CapabilityInvoker

    func call(_ input: JSONValue, request: AttemptRequest, step: Int, logger: Logger) async throws -> ToolResult {
        guard let parameters = input.objectValue else {
            throw ToolInputError(description: "the input must be an object of the capability's parameters")
        }
        let outcome = try await invoker.invoke(
            capability, input: parameters, for: request, key: "tool/\(step)", logger: logger)
        return ToolResult(
            value: outcome.output,
            details: [
                "capability": .string(capability), "tool_agent": .string(outcome.agent),
                "tries": .number(Number(outcome.tries)),
            ])
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

    func call(_ input: JSONValue, request: AttemptRequest, step: Int, logger: Logger) async throws -> ToolResult {
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
        return ToolResult(value: [
            "run_id": .string(id), "workflow": .string(snapshot.run.workflowName),
            "status": .string(snapshot.run.status.rawValue), "tasks": .object(tasks),
        ])
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

    func call(_ input: JSONValue, request: AttemptRequest, step: Int, logger: Logger) async throws -> ToolResult {
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
        return ToolResult(value: ["events": .array(found)])
    }
}
