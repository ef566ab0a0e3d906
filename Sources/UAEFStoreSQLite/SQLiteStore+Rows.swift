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
            createdBy: row["created_by"], traceParent: row["trace_parent"], retryCount: row["retry_count"],
            retriedAt: date(row["retried_at"]), retriedBy: row["retried_by"],
            parent: (row["parent_run_id"] as String?).map {
                RunParent(run: RunID($0), task: row["parent_task"] ?? "", detached: row["parent_detached"])
            },
            depth: row["depth"])
    }

    /// The columns ``task(_:)`` reads, in its order: a run of 1,000 tasks is read by position,
    /// not by name (GRDB matches names case-insensitively, which costs more than the decoding).
    static let taskColumns =
        "tenant, run_id, key, task_id, idx, status, attempts, agent_id, output, error, reason, next_attempt_at, item, instance_count, attempts_before_retry, updated_at"

    /// A row of ``taskColumns``.
    static func task(_ row: Row) throws -> TaskRecord {
        TaskRecord(
            tenant: row[0], runID: RunID(row[1]), key: row[2], taskID: row[3], index: row[4],
            status: try enumValue(row[5], "tasks.status"), attempts: row[6],
            agentID: (row[7] as String?).map(AgentID.init), output: try json(row[8], "tasks.output"),
            error: row[9], reason: row[10], nextAttemptAt: date(row[11]), item: try json(row[12], "tasks.item"),
            instanceCount: row[13], attemptsBeforeRetry: row[14], updatedAt: Timestamp.date(milliseconds: row[15]))
    }

    /// The columns ``attempt(_:)`` reads, in its order.
    static let attemptColumns =
        "tenant, run_id, key, number, idempotency_key, agent_id, status, started_at, ended_at, error"

    /// A row of ``attemptColumns``.
    static func attempt(_ row: Row) -> AttemptRecord {
        AttemptRecord(
            tenant: row[0], runID: RunID(row[1]), key: row[2], number: row[3], idempotencyKey: row[4],
            agentID: (row[5] as String?).map(AgentID.init), status: AttemptStatus(rawValue: row[6]) ?? .failed,
            startedAt: Timestamp.date(milliseconds: row[7]), endedAt: date(row[8]), error: row[9])
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

    /// The columns ``event(_:)`` reads, in its order (read by position: GRDB's lookup by name
    /// lowercases every column name of the row).
    static let eventColumns = "seq, id, time, type, actor, tenant, subject, data, payloads"

    /// A row of ``eventColumns``.
    static func event(_ row: Row) throws -> EventRecord {
        EventRecord(
            seq: row[0],
            event: EventDraft(
                id: row[1], time: Timestamp.parse(row[2]) ?? Date(timeIntervalSince1970: 0), type: row[3],
                actor: row[4], tenant: row[5], subject: row[6],
                data: try json(row[7], "events.data")?.objectValue ?? [:], payloads: try payloads(row)))
    }

    /// The payloads stored beside an event, parsed; empty when it has none or they were redacted.
    private static func payloads(_ row: Row) throws -> [String: JSONValue] {
        guard let frame = row[8] as Data? else { return [:] }
        guard let payloads = frame.withUnsafeBytes(EventPayloads.unframe) else {
            throw StoreCorruption(
                location: "events.payloads", reason: "event \(row[0] as Int64): not a payload frame")
        }
        var result: [String: JSONValue] = [:]
        for payload in payloads {
            result[payload.name] = try json(String(decoding: payload.bytes, as: UTF8.self), "events.payloads")
        }
        return result
    }
}
