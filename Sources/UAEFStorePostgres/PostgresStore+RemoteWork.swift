import Foundation
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func enqueueRemoteTask(_ task: RemoteTaskRecord) async throws -> RemoteTaskRecord {
        let input = JSONValue.object(task.input).jsonText
        let created = Timestamp.milliseconds(task.createdAt)
        let updated = Timestamp.milliseconds(task.updatedAt)
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO remote_tasks (id, tenant, placement, agent_id, kind, run_id, workflow, key, capability, attempt,
                    idempotency_key, input, status, generation, retryable, created_at, updated_at)
                VALUES (\(task.id), \(task.tenant), \(task.placement.rawValue), \(task.agentID.rawValue), \(task.kind),
                    \(task.runID.rawValue), \(task.workflow),
                    \(task.key), \(task.capability), \(task.attempt), \(task.idempotencyKey), \(input), \(task.status.rawValue), 0, true,
                    \(created), \(updated))
                ON CONFLICT (idempotency_key) DO NOTHING
                """, logger: logger)
            try await Self.notifyWork(on: connection, logger: logger)
        }
        return try await rows(
            "SELECT * FROM remote_tasks WHERE idempotency_key = \(task.idempotencyKey)", Self.remoteTask)[0]
    }

    public func remoteTask(_ id: String, tenant: String) async throws -> RemoteTaskRecord? {
        try await rows("SELECT * FROM remote_tasks WHERE id = \(id) AND tenant = \(tenant)", Self.remoteTask).first
    }

    /// Claims the oldest claimable task of `placement` (of `agent` when given, asking for one of
    /// `capabilities` when given), skipping rows other claimants hold locked.
    public func claimQueuedTask(
        placement: RemoteTaskRecord.Placement, agent: AgentID?, capabilities: [String]?, tenant: String, now: Date,
        leaseUntil: Date
    ) async throws -> RemoteTaskRecord? {
        let nowMilliseconds = Timestamp.milliseconds(now)
        let agentID = agent?.rawValue
        return try await rows(
            """
            UPDATE remote_tasks SET status = 'claimed', generation = generation + 1,
                lease_expires_at = \(Timestamp.milliseconds(leaseUntil)), updated_at = \(nowMilliseconds)
            WHERE id = (
                SELECT id FROM remote_tasks
                WHERE tenant = \(tenant) AND placement = \(placement.rawValue)
                    AND (\(agentID)::text IS NULL OR agent_id = \(agentID))
                    AND (status = 'queued' OR (status = 'claimed' AND lease_expires_at < \(nowMilliseconds)))
                    AND (\(capabilities)::text[] IS NULL OR capability = ANY(\(capabilities)::text[]))
                ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING *
            """, Self.remoteTask
        ).first
    }

    public func updateRemoteTask(
        _ id: String, tenant: String, generation: Int64, change: RemoteTaskChange, now: Date
    ) async throws -> RemoteTaskUpdate {
        let (status, lease, output, error, retryable) = RemoteTaskColumns.values(for: change)
        let leaseMilliseconds = lease.map(Timestamp.milliseconds)
        let outputText = output?.jsonText
        if let updated = try await rows(
            """
            UPDATE remote_tasks SET status = \(status.rawValue),
                lease_expires_at = COALESCE(\(leaseMilliseconds), lease_expires_at),
                output = COALESCE(\(outputText), output), error = COALESCE(\(error), error),
                retryable = \(retryable), updated_at = \(Timestamp.milliseconds(now))
            WHERE id = \(id) AND tenant = \(tenant) AND generation = \(generation) AND status = 'claimed'
            RETURNING *
            """, Self.remoteTask
        ).first {
            return .updated(updated)
        }
        guard let current = try await remoteTask(id, tenant: tenant) else { return .notFound }
        return .leaseLost(current)
    }

    public func cancelRemoteTasks(idempotencyKeys: [String], tenant: String, now: Date) async throws -> Int {
        guard !idempotencyKeys.isEmpty else { return 0 }
        return try await rows(
            """
            UPDATE remote_tasks SET status = 'cancelled', updated_at = \(Timestamp.milliseconds(now))
            WHERE idempotency_key = ANY(\(idempotencyKeys)) AND tenant = \(tenant) AND status IN ('queued', 'claimed')
            RETURNING id
            """
        ) { try $0.decode(String.self) }.count
    }

    public func cancelRemoteTasks(ofRun run: RunID, tenant: String, now: Date) async throws -> Int {
        try await rows(
            """
            UPDATE remote_tasks SET status = 'cancelled', updated_at = \(Timestamp.milliseconds(now))
            WHERE run_id = \(run.rawValue) AND tenant = \(tenant) AND status IN ('queued', 'claimed')
            RETURNING id
            """
        ) { try $0.decode(String.self) }.count
    }

    public func saveAgentKey(_ key: AgentKeyRecord) async throws {
        try await execute(
            """
            INSERT INTO agent_keys (id, tenant, agent_id, sha256, created_at, created_by)
            VALUES (\(key.id), \(key.tenant), \(key.agentID.rawValue), \(key.sha256),
                \(Timestamp.milliseconds(key.createdAt)), \(key.createdBy))
            """)
    }

    public func agentKey(sha256: String) async throws -> AgentKeyRecord? {
        try await rows("SELECT * FROM agent_keys WHERE sha256 = \(sha256)") { row in
            let c = Columns(row, table: "agent_keys")
            return AgentKeyRecord(
                id: try c("id"), tenant: try c("tenant"), agentID: AgentID(try c("agent_id")), sha256: try c("sha256"),
                createdAt: try c.date("created_at"), createdBy: try c("created_by"))
        }.first
    }

    static func remoteTask(_ row: PostgresRow) throws -> RemoteTaskRecord {
        let c = Columns(row, table: "remote_tasks")
        return RemoteTaskRecord(
            id: try c("id"), tenant: try c("tenant"), placement: try c.enumValue("placement"),
            agentID: AgentID(try c("agent_id")), kind: try c("kind"),
            runID: RunID(try c("run_id")),
            workflow: try c("workflow"), key: try c("key"), capability: try c("capability"), attempt: try c("attempt"),
            idempotencyKey: try c("idempotency_key"), input: try c.json("input")?.objectValue ?? [:],
            status: try c.enumValue("status"), generation: try c("generation"),
            leaseExpiresAt: try c.optionalDate("lease_expires_at"), output: try c.json("output"), error: try c("error"),
            retryable: try c("retryable"), createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"))
    }
}
