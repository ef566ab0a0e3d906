import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    /// Inserts `step`; throws ``ConversationStepTaken`` when its place is taken.
    static func insert(_ step: ConversationStep, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO conversation_steps (tenant, run_id, task_key, idx, attempt, kind, agent, day,
                    input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_nanos, currency,
                    latency_ms, event_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """
        ).execute(arguments: [
            step.tenant, step.run.rawValue, step.taskKey, step.index, step.attempt, step.kind.rawValue, step.agent,
            step.day, step.inputTokens, step.outputTokens, step.cacheCreationTokens, step.cacheReadTokens,
            step.costNanos, step.currency, step.latencyMilliseconds, step.eventID,
        ])
        guard db.changesCount == 1 else {
            throw ConversationStepTaken(run: step.run, taskKey: step.taskKey, index: step.index)
        }
    }

    public func conversationSteps(tenant: String, run: RunID, taskKey: String) async throws -> [ConversationStep] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.*, e.seq FROM conversation_steps s JOIN events e ON e.id = s.event_id
                    WHERE s.tenant = ? AND s.run_id = ? AND s.task_key = ? ORDER BY s.idx
                    """, arguments: [tenant, run.rawValue, taskKey]
            ).map { row in
                ConversationStep(
                    tenant: row["tenant"], run: RunID(row["run_id"] as String), taskKey: row["task_key"],
                    index: row["idx"], attempt: row["attempt"],
                    kind: ConversationStep.Kind(rawValue: row["kind"]) ?? .call, agent: row["agent"], day: row["day"],
                    inputTokens: row["input_tokens"], outputTokens: row["output_tokens"],
                    cacheCreationTokens: row["cache_creation_tokens"], cacheReadTokens: row["cache_read_tokens"],
                    costNanos: row["cost_nanos"], currency: row["currency"], latencyMilliseconds: row["latency_ms"],
                    eventID: row["event_id"], eventSeq: row["seq"])
            }
        }
    }

    public func conversationSpending(tenant: String, run: RunID) async throws -> ConversationSpending {
        try await spending(where: "tenant = ? AND run_id = ?", [tenant, run.rawValue])
    }

    public func conversationSpending(tenant: String, agent: String, day: String) async throws -> ConversationSpending {
        try await spending(where: "tenant = ? AND agent = ? AND day = ?", [tenant, agent, day])
    }

    public func conversationTotals(tenant: String, agent: String) async throws -> ConversationTotals {
        try await pool.read { db in
            let scope = "FROM conversation_steps WHERE tenant = ? AND agent = ? AND kind = 'call'"
            var totals = ConversationTotals()
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COUNT(*) AS calls, SUM(input_tokens) AS input, SUM(output_tokens) AS output,
                        SUM(cache_creation_tokens) AS cache_creation, SUM(cache_read_tokens) AS cache_read,
                        currency, SUM(cost_nanos) AS cost
                    \(scope) GROUP BY currency
                    """, arguments: [tenant, agent])
            {
                totals.calls += row["calls"] as Int
                totals.inputTokens += row["input"] as Int
                totals.outputTokens += row["output"] as Int
                totals.cacheCreationTokens += row["cache_creation"] as Int
                totals.cacheReadTokens += row["cache_read"] as Int
                if let currency = row["currency"] as String? { totals.costNanos[currency] = row["cost"] }
            }
            func latency(at fraction: Double) throws -> Int? {
                try Int.fetchOne(
                    db, sql: "SELECT latency_ms \(scope) ORDER BY latency_ms LIMIT 1 OFFSET ?",
                    arguments: [tenant, agent, Int(Double(totals.calls) * fraction)])
            }
            if totals.calls > 0 {
                totals.p50LatencyMilliseconds = try latency(at: 0.5)
                totals.p95LatencyMilliseconds = try latency(at: 0.95)
            }
            return totals
        }
    }

    private func spending(where condition: String, _ arguments: StatementArguments) async throws
        -> ConversationSpending
    {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0)
                        AS tokens, COALESCE(SUM(cost_nanos), 0) AS cost
                    FROM conversation_steps WHERE \(condition)
                    """, arguments: arguments)
            return ConversationSpending(tokens: row?["tokens"] ?? 0, costNanos: row?["cost"] ?? 0)
        }
    }
}
