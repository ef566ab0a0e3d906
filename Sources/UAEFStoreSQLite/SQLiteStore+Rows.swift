import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    private static func json(_ text: String?, _ location: String) throws -> JSONValue? {
        guard let text else { return nil }
        do {
            return try JSONValue(jsonText: text)
        } catch {
            throw StoreCorruption(location: location, reason: error.description)
        }
    }

    private static func date(_ milliseconds: Int64?) -> Date? { milliseconds.map { Timestamp.date(milliseconds: $0) } }

    static func enumValue<T: RawRepresentable>(_ raw: String, _ location: String) throws -> T
    where T.RawValue == String {
        guard let value = T(rawValue: raw) else {
            throw StoreCorruption(location: location, reason: "unknown value \(raw)")
        }
        return value
    }

    static func run(_ row: Row) throws -> RunRecord {
        RunRecord(
            id: RunID(row["id"]), tenant: row["tenant"], workflowName: row["workflow_name"],
            workflowVersion: row["workflow_version"], workflowSource: row["workflow_source"],
            workflowFile: row["workflow_file"],
            inputs: try json(row["inputs"], "runs.inputs")?.objectValue ?? [:],
            status: try enumValue(row["status"], "runs.status"), error: row["error"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]), endedAt: date(row["ended_at"]),
            cancelRequested: row["cancel_requested"], owner: row["owner"],
            leaseExpiresAt: date(row["lease_expires_at"]), leaseGeneration: row["lease_generation"],
            createdBy: row["created_by"], traceParent: row["trace_parent"])
    }

    static func task(_ row: Row) throws -> TaskRecord {
        TaskRecord(
            tenant: row["tenant"], runID: RunID(row["run_id"]), key: row["key"], taskID: row["task_id"],
            index: row["idx"],
            status: try enumValue(row["status"], "tasks.status"), attempts: row["attempts"],
            agentID: (row["agent_id"] as String?).map(AgentID.init), output: try json(row["output"], "tasks.output"),
            error: row["error"], reason: row["reason"], nextAttemptAt: date(row["next_attempt_at"]),
            item: try json(row["item"], "tasks.item"), instanceCount: row["instance_count"],
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]))
    }

    static func attempt(_ row: Row) -> AttemptRecord {
        AttemptRecord(
            tenant: row["tenant"], runID: RunID(row["run_id"]), key: row["key"], number: row["number"],
            idempotencyKey: row["idempotency_key"], agentID: (row["agent_id"] as String?).map(AgentID.init),
            status: AttemptStatus(rawValue: row["status"]) ?? .failed,
            startedAt: Timestamp.date(milliseconds: row["started_at"]), endedAt: date(row["ended_at"]),
            error: row["error"])
    }

    static func agent(_ row: Row) throws -> AgentRecord {
        AgentRecord(
            id: AgentID(row["id"]), tenant: row["tenant"], name: row["name"], kind: row["kind"],
            capabilities: try json(row["capabilities"], "agents.capabilities")?.arrayValue?.compactMap(\.stringValue)
                ?? [],
            configuration: try json(row["configuration"], "agents.configuration")?.objectValue ?? [:],
            maxConcurrency: row["max_concurrency"], status: try enumValue(row["status"], "agents.status"),
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]))
    }

    static func workflow(_ row: Row) -> WorkflowRecord {
        WorkflowRecord(
            tenant: row["tenant"], name: row["name"], version: row["version"], source: row["source"],
            sha256: row["sha256"], createdAt: Timestamp.date(milliseconds: row["created_at"]),
            createdBy: row["created_by"])
    }

    static func remoteTask(_ row: Row) throws -> RemoteTaskRecord {
        RemoteTaskRecord(
            id: row["id"], tenant: row["tenant"], placement: try enumValue(row["placement"], "remote_tasks.placement"),
            agentID: AgentID(row["agent_id"]), kind: row["kind"], runID: RunID(row["run_id"]),
            workflow: row["workflow"], key: row["key"], capability: row["capability"], attempt: row["attempt"],
            idempotencyKey: row["idempotency_key"],
            input: try json(row["input"], "remote_tasks.input")?.objectValue ?? [:],
            status: try enumValue(row["status"], "remote_tasks.status"), generation: row["generation"],
            leaseExpiresAt: date(row["lease_expires_at"]), output: try json(row["output"], "remote_tasks.output"),
            error: row["error"], retryable: row["retryable"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]))
    }

    static func event(_ row: Row) throws -> EventRecord {
        EventRecord(
            seq: row["seq"],
            event: EventDraft(
                id: row["id"], time: Timestamp.parse(row["time"]) ?? Date(timeIntervalSince1970: 0), type: row["type"],
                actor: row["actor"], tenant: row["tenant"], subject: row["subject"],
                data: try json(row["data"], "events.data")?.objectValue ?? [:], payloads: try payloads(row)))
    }

    /// The payloads stored beside an event, parsed; empty when it has none or they were redacted.
    private static func payloads(_ row: Row) throws -> [String: JSONValue] {
        guard let frame = row["payloads"] as Data? else { return [:] }
        guard let payloads = frame.withUnsafeBytes(EventPayloads.unframe) else {
            throw StoreCorruption(
                location: "events.payloads", reason: "event \(row["seq"] as Int64): not a payload frame")
        }
        var result: [String: JSONValue] = [:]
        for payload in payloads {
            result[payload.name] = try json(String(decoding: payload.bytes, as: UTF8.self), "events.payloads")
        }
        return result
    }
}
