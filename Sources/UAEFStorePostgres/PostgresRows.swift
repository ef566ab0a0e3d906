import Foundation
import NIOCore
import PostgresNIO
import UAEFCore
import UAEFLedger
import UAEFStore

/// One result row read by column name, with the store's conventions: times are milliseconds since
/// 1970, JSON is text, hashes are 32 bytes.
struct Columns {
    let row: PostgresRandomAccessRow
    let table: String

    init(_ row: PostgresRow, table: String) {
        self.row = row.makeRandomAccess()
        self.table = table
    }

    func callAsFunction<Value: PostgresDecodable>(_ name: String, as type: Value.Type = Value.self) throws -> Value {
        do {
            return try row[name].decode(Value.self)
        } catch {
            throw StoreCorruption(location: "\(table).\(name)", reason: "not a \(Value.self)")
        }
    }

    func date(_ name: String) throws -> Date { Timestamp.date(milliseconds: try self(name, as: Int64.self)) }

    func optionalDate(_ name: String) throws -> Date? {
        try self(name, as: Int64?.self).map { Timestamp.date(milliseconds: $0) }
    }

    func json(_ name: String) throws -> JSONValue? {
        guard let text = try self(name, as: String?.self) else { return nil }
        do {
            return try JSONValue(jsonText: text)
        } catch {
            throw StoreCorruption(location: "\(table).\(name)", reason: error.description)
        }
    }

    func enumValue<T: RawRepresentable>(_ name: String) throws -> T where T.RawValue == String {
        let raw = try self(name, as: String.self)
        guard let value = T(rawValue: raw) else {
            throw StoreCorruption(location: "\(table).\(name)", reason: "unknown value \(raw)")
        }
        return value
    }

    func bytes(_ name: String) throws -> [UInt8]? {
        try self(name, as: ByteBuffer?.self).map { Array($0.readableBytesView) }
    }

    func hash(_ name: String) throws -> MerkleHash? {
        guard let bytes = try bytes(name) else { return nil }
        guard let hash = MerkleHash(bytes: bytes) else {
            throw StoreCorruption(location: "\(table).\(name)", reason: "not a 32-byte hash")
        }
        return hash
    }
}

/// Bytes as a `bytea` parameter.
func bytea(_ bytes: some Sequence<UInt8>) -> ByteBuffer { ByteBuffer(bytes: bytes) }

extension PostgresStore {
    static func run(_ row: PostgresRow) throws -> RunRecord {
        let c = Columns(row, table: "runs")
        return RunRecord(
            id: RunID(try c("id")), tenant: try c("tenant"), workflowName: try c("workflow_name"),
            workflowVersion: try c("workflow_version"), workflowSource: try c("workflow_source"),
            workflowFile: try c("workflow_file"), inputs: try c.json("inputs")?.objectValue ?? [:],
            status: try c.enumValue("status"), error: try c("error"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"), endedAt: try c.optionalDate("ended_at"),
            cancelRequested: try c("cancel_requested"), owner: try c("owner"),
            leaseExpiresAt: try c.optionalDate("lease_expires_at"), leaseGeneration: try c("lease_generation"),
            createdBy: try c("created_by"), traceParent: try c("trace_parent"), retryCount: try c("retry_count"),
            retriedAt: try c.optionalDate("retried_at"), retriedBy: try c("retried_by"),
            parent: try c("parent_run_id", as: String?.self).map {
                RunParent(
                    run: RunID($0), task: try c("parent_task", as: String?.self) ?? "",
                    detached: try c("parent_detached"))
            },
            depth: try c("depth"))
    }

    static func task(_ row: PostgresRow) throws -> TaskRecord {
        let c = Columns(row, table: "tasks")
        return TaskRecord(
            tenant: try c("tenant"), runID: RunID(try c("run_id")), key: try c("key"), taskID: try c("task_id"),
            index: try c("idx"), status: try c.enumValue("status"), attempts: try c("attempts"),
            agentID: try c("agent_id", as: String?.self).map(AgentID.init), output: try c.json("output"),
            error: try c("error"), reason: try c("reason"), nextAttemptAt: try c.optionalDate("next_attempt_at"),
            item: try c.json("item"), instanceCount: try c("instance_count"),
            attemptsBeforeRetry: try c("attempts_before_retry"), updatedAt: try c.date("updated_at"))
    }

    static func attempt(_ row: PostgresRow) throws -> AttemptRecord {
        let c = Columns(row, table: "attempts")
        return AttemptRecord(
            tenant: try c("tenant"), runID: RunID(try c("run_id")), key: try c("key"), number: try c("number"),
            idempotencyKey: try c("idempotency_key"), agentID: try c("agent_id", as: String?.self).map(AgentID.init),
            status: try c.enumValue("status"), startedAt: try c.date("started_at"),
            endedAt: try c.optionalDate("ended_at"), error: try c("error"))
    }

    static func workflow(_ row: PostgresRow) throws -> WorkflowRecord {
        let c = Columns(row, table: "workflows")
        return WorkflowRecord(
            tenant: try c("tenant"), name: try c("name"), version: try c("version"), source: try c("source"),
            sha256: try c("sha256"), createdAt: try c.date("created_at"), createdBy: try c("created_by"))
    }

    static func agent(_ row: PostgresRow) throws -> AgentRecord {
        let c = Columns(row, table: "agents")
        return AgentRecord(
            id: AgentID(try c("id")), tenant: try c("tenant"), name: try c("name"), kind: try c("kind"),
            capabilities: try c.json("capabilities")?.arrayValue?.compactMap(\.stringValue) ?? [],
            configuration: try c.json("configuration")?.objectValue ?? [:], maxConcurrency: try c("max_concurrency"),
            status: try c.enumValue("status"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"))
    }

    /// The columns ``event(_:)`` reads.
    static let eventColumns = "seq, id, time, type, actor, tenant, subject, data, leaf_hash, payloads"

    static func event(_ row: PostgresRow) throws -> (record: EventRecord, leaf: MerkleHash?) {
        let c = Columns(row, table: "events")
        let seq: Int64 = try c("seq")
        var payloads: [String: JSONValue] = [:]
        if let frame = try c.bytes("payloads") {
            guard let bodies = frame.withUnsafeBytes(EventPayloads.unframe) else {
                throw StoreCorruption(location: "events.payloads", reason: "event \(seq): not a payload frame")
            }
            for body in bodies {
                do {
                    payloads[body.name] = try JSONValue(jsonText: String(decoding: body.bytes, as: UTF8.self))
                } catch {
                    throw StoreCorruption(location: "events.payloads", reason: error.description)
                }
            }
        }
        let draft = EventDraft(
            id: try c("id"), time: Timestamp.parse(try c("time")) ?? Date(timeIntervalSince1970: 0),
            type: try c("type"), actor: try c("actor"), tenant: try c("tenant"), subject: try c("subject"),
            data: try c.json("data")?.objectValue ?? [:], payloads: payloads)
        return (EventRecord(seq: seq, event: draft), try c.hash("leaf_hash"))
    }
}
