import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func enqueueRemoteTask(_ task: RemoteTaskRecord) async throws -> RemoteTaskRecord {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO remote_tasks (id, tenant, placement, agent_id, kind, run_id, workflow, key, capability,
                        attempt, idempotency_key, input, status, generation, retryable, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING
                    """,
                arguments: [
                    task.id, task.tenant, task.placement.rawValue, task.agentID.rawValue, task.kind,
                    task.runID.rawValue, task.workflow, task.key,
                    task.capability, task.attempt, task.idempotencyKey, JSONValue.object(task.input).jsonText,
                    task.status.rawValue,
                    Timestamp.milliseconds(task.createdAt), Timestamp.milliseconds(task.updatedAt),
                ])
            return try Self.remoteTask(
                Row.fetchOne(
                    db, sql: "SELECT * FROM remote_tasks WHERE idempotency_key = ?", arguments: [task.idempotencyKey])!)
        }
    }

    public func remoteTask(_ id: String, tenant: String) async throws -> RemoteTaskRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM remote_tasks WHERE id = ? AND tenant = ?", arguments: [id, tenant]
            )
            .map(Self.remoteTask)
        }
    }

    /// Claims the oldest claimable task of `placement` (of `agent` when given, asking for one of
    /// `capabilities` when given).
    public func claimQueuedTask(
        placement: RemoteTaskRecord.Placement, agent: AgentID?, capabilities: [String]?, tenant: String, now: Date,
        leaseUntil: Date
    ) async throws -> RemoteTaskRecord? {
        // The capabilities travel as one JSON array bound as a parameter (null: any).
        let wanted = capabilities.map { JSONValue.array($0.map(JSONValue.string)).jsonText }
        let filter: StatementArguments = [tenant, placement.rawValue, agent?.rawValue]
        // Claimants poll: a reader answers "nothing queued" without taking the single writer.
        let anyQueued = try await pool.read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM remote_tasks
                        WHERE tenant = ?1 AND placement = ?2 AND (?3 IS NULL OR agent_id = ?3)
                            AND status IN ('queued', 'claimed'))
                    """, arguments: filter) ?? false
        }
        guard anyQueued else { return nil }
        return try await pool.write { db in
            try Row.fetchOne(
                db,
                sql: """
                    UPDATE remote_tasks SET status = 'claimed', generation = generation + 1, lease_expires_at = ?4,
                        updated_at = ?5
                    WHERE id = (
                        SELECT id FROM remote_tasks
                        WHERE tenant = ?1 AND placement = ?2 AND (?3 IS NULL OR agent_id = ?3)
                            AND (status = 'queued' OR (status = 'claimed' AND lease_expires_at < ?5))
                            AND (?6 IS NULL OR capability IN (SELECT value FROM json_each(?6)))
                        ORDER BY created_at, id LIMIT 1)
                    RETURNING *
                    """,
                arguments: filter + [Timestamp.milliseconds(leaseUntil), Timestamp.milliseconds(now), wanted]
            )
            .map(Self.remoteTask)
        }
    }

    public func updateRemoteTask(
        _ id: String, tenant: String, generation: Int64, change: RemoteTaskChange, now: Date
    ) async throws -> RemoteTaskUpdate {
        let (status, lease, output, error, retryable) = RemoteTaskColumns.values(for: change)
        return try await pool.write { db in
            if let updated = try Row.fetchOne(
                db,
                sql: """
                    UPDATE remote_tasks SET status = ?, lease_expires_at = COALESCE(?, lease_expires_at),
                        output = COALESCE(?, output), error = COALESCE(?, error), retryable = ?, updated_at = ?
                    WHERE id = ? AND tenant = ? AND generation = ? AND status = 'claimed'
                    RETURNING *
                    """,
                arguments: [
                    status.rawValue, lease.map(Timestamp.milliseconds), output?.jsonText, error, retryable,
                    Timestamp.milliseconds(now), id, tenant, generation,
                ])
            {
                return .updated(try Self.remoteTask(updated))
            }
            guard
                let current = try Row.fetchOne(
                    db, sql: "SELECT * FROM remote_tasks WHERE id = ? AND tenant = ?", arguments: [id, tenant])
            else { return .notFound }
            return .leaseLost(try Self.remoteTask(current))
        }
    }

    public func cancelRemoteTasks(idempotencyKeys: [String], tenant: String, now: Date) async throws -> Int {
        guard !idempotencyKeys.isEmpty else { return 0 }
        // The keys travel as one JSON array bound as a parameter.
        let keys = JSONValue.array(idempotencyKeys.map(JSONValue.string)).jsonText
        return try await cancelRemoteTasks(
            where: "idempotency_key IN (SELECT value FROM json_each(?)) AND tenant = ?", [keys, tenant], now: now)
    }

    public func cancelRemoteTasks(ofRun run: RunID, tenant: String, now: Date) async throws -> Int {
        try await cancelRemoteTasks(where: "run_id = ? AND tenant = ?", [run.rawValue, tenant], now: now)
    }

    /// Marks the unfinished tasks that `condition` (with `arguments`) selects cancelled.
    private func cancelRemoteTasks(where condition: String, _ arguments: StatementArguments, now: Date)
        async throws -> Int
    {
        // Usually there is none (every resumed run asks): a reader says so without the single writer.
        let anyUnfinished = try await pool.read { db in
            try Bool.fetchOne(
                db,
                sql:
                    "SELECT EXISTS (SELECT 1 FROM remote_tasks WHERE \(condition) AND status IN ('queued', 'claimed'))",
                arguments: arguments) ?? false
        }
        guard anyUnfinished else { return 0 }
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE remote_tasks SET status = 'cancelled', updated_at = ?
                    WHERE \(condition) AND status IN ('queued', 'claimed')
                    """, arguments: [Timestamp.milliseconds(now)] + arguments)
            return db.changesCount
        }
    }

    public func saveAgentKey(_ key: AgentKeyRecord) async throws {
        try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO agent_keys (id, tenant, agent_id, sha256, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    key.id, key.tenant, key.agentID.rawValue, key.sha256, Timestamp.milliseconds(key.createdAt),
                    key.createdBy,
                ])
        }
    }

    public func agentKey(sha256: String) async throws -> AgentKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM agent_keys WHERE sha256 = ?", arguments: [sha256]).map { row in
                AgentKeyRecord(
                    id: row["id"], tenant: row["tenant"], agentID: AgentID(row["agent_id"]), sha256: row["sha256"],
                    createdAt: Timestamp.date(milliseconds: row["created_at"]), createdBy: row["created_by"])
            }
        }
    }
}
