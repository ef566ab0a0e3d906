import Foundation
import Logging
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    /// Inserts `step`; throws ``ConversationStepTaken`` when its place is taken.
    static func insert(_ step: ConversationStep, on connection: PostgresConnection, logger: Logger) async throws {
        let inserted = try await connection.query(
            """
            INSERT INTO conversation_steps (tenant, run_id, task_key, idx, attempt, kind, agent, day,
                input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_nanos, currency,
                latency_ms, event_id)
            VALUES (\(step.tenant), \(step.run.rawValue), \(step.taskKey), \(step.index), \(step.attempt),
                \(step.kind.rawValue), \(step.agent), \(step.day), \(Int64(step.inputTokens)),
                \(Int64(step.outputTokens)), \(Int64(step.cacheCreationTokens)), \(Int64(step.cacheReadTokens)),
                \(step.costNanos), \(step.currency), \(Int64(step.latencyMilliseconds)), \(step.eventID))
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger
        ).collect()
        guard inserted.count == 1 else {
            throw ConversationStepTaken(run: step.run, taskKey: step.taskKey, index: step.index)
        }
    }

    public func conversationSteps(tenant: String, run: RunID, taskKey: String) async throws -> [ConversationStep] {
        try await rows(
            """
            SELECT s.*, e.seq FROM conversation_steps s JOIN events e ON e.id = s.event_id
            WHERE s.tenant = \(tenant) AND s.run_id = \(run.rawValue) AND s.task_key = \(taskKey) ORDER BY s.idx
            """
        ) { row in
            let c = Columns(row, table: "conversation_steps")
            return ConversationStep(
                tenant: try c("tenant"), run: RunID(try c("run_id", as: String.self)), taskKey: try c("task_key"),
                index: try c("idx"), attempt: try c("attempt"),
                kind: ConversationStep.Kind(rawValue: try c("kind")) ?? .call, agent: try c("agent"),
                day: try c("day"), inputTokens: Int(try c("input_tokens", as: Int64.self)),
                outputTokens: Int(try c("output_tokens", as: Int64.self)),
                cacheCreationTokens: Int(try c("cache_creation_tokens", as: Int64.self)),
                cacheReadTokens: Int(try c("cache_read_tokens", as: Int64.self)), costNanos: try c("cost_nanos"),
                currency: try c("currency"), latencyMilliseconds: Int(try c("latency_ms", as: Int64.self)),
                eventID: try c("event_id"), eventSeq: try c("seq"))
        }
    }

    public func conversationSpending(tenant: String, run: RunID) async throws -> ConversationSpending {
        try await spending(
            """
            SELECT COALESCE(SUM(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0)::BIGINT,
                COALESCE(SUM(cost_nanos), 0)::BIGINT
            FROM conversation_steps WHERE tenant = \(tenant) AND run_id = \(run.rawValue)
            """)
    }

    public func conversationSpending(tenant: String, agent: String, day: String) async throws -> ConversationSpending {
        try await spending(
            """
            SELECT COALESCE(SUM(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0)::BIGINT,
                COALESCE(SUM(cost_nanos), 0)::BIGINT
            FROM conversation_steps WHERE tenant = \(tenant) AND agent = \(agent) AND day = \(day)
            """)
    }

    public func conversationTotals(tenant: String, agent: String) async throws -> ConversationTotals {
        var totals = ConversationTotals()
        let sums = try await rows(
            """
            SELECT COUNT(*)::BIGINT, SUM(input_tokens)::BIGINT, SUM(output_tokens)::BIGINT,
                SUM(cache_creation_tokens)::BIGINT, SUM(cache_read_tokens)::BIGINT, currency, SUM(cost_nanos)::BIGINT
            FROM conversation_steps WHERE tenant = \(tenant) AND agent = \(agent) AND kind = 'call' GROUP BY currency
            """
        ) { row in try row.decode((Int64, Int64, Int64, Int64, Int64, String?, Int64).self) }
        for (calls, input, output, cacheCreation, cacheRead, currency, cost) in sums {
            totals.calls += Int(calls)
            totals.inputTokens += Int(input)
            totals.outputTokens += Int(output)
            totals.cacheCreationTokens += Int(cacheCreation)
            totals.cacheReadTokens += Int(cacheRead)
            if let currency { totals.costNanos[currency] = cost }
        }
        guard totals.calls > 0 else { return totals }
        let percentiles = try await rows(
            """
            SELECT (percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms))::BIGINT,
                (percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms))::BIGINT
            FROM conversation_steps WHERE tenant = \(tenant) AND agent = \(agent) AND kind = 'call'
            """
        ) { row in try row.decode((Int64, Int64).self) }
        totals.p50LatencyMilliseconds = percentiles.first.map { Int($0.0) }
        totals.p95LatencyMilliseconds = percentiles.first.map { Int($0.1) }
        return totals
    }

    private func spending(_ query: PostgresQuery) async throws -> ConversationSpending {
        let sums = try await rows(query) { row in
            let (tokens, cost) = try row.decode((Int64, Int64).self)
            return ConversationSpending(tokens: Int(tokens), costNanos: cost)
        }
        return sums.first ?? ConversationSpending()
    }
}
