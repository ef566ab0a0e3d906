import UAEFCore
import UAEFStore

/// The JSON shape of an agent shared by `uaef agents … --json` and the API.
public enum AgentReport {
    /// `{"id", "name", "kind", "capabilities", "configuration", "max_concurrency", "status",
    /// "created_at"}`, with `metrics` when given, and `llm` (model calls, tokens, cost per
    /// currency, call latency p50/p95) when `llm` totals are given.
    public static func json(_ agent: AgentRecord, metrics: AgentMetrics?, llm: ConversationTotals? = nil) -> JSONValue {
        var value: [String: JSONValue] = [
            "id": .string(agent.id.rawValue), "name": .string(agent.name), "kind": .string(agent.kind),
            "capabilities": .array(agent.capabilities.map(JSONValue.string)),
            "configuration": .object(agent.configuration),
            "max_concurrency": .number(Number(agent.maxConcurrency)), "status": .string(agent.status.rawValue),
            "created_at": .string(Timestamp.format(agent.createdAt)),
        ]
        if let metrics {
            value["metrics"] = [
                "attempts": .number(Number(metrics.attempts)), "successes": .number(Number(metrics.successes)),
                "failures": .number(Number(metrics.failures)), "running_now": .number(Number(metrics.runningNow)),
                "p50_ms": metrics.p50Milliseconds.map { .number(Number($0)) } ?? .null,
                "p95_ms": metrics.p95Milliseconds.map { .number(Number($0)) } ?? .null,
                "last_active_at": metrics.lastActiveAt.map { .string(Timestamp.format($0)) } ?? .null,
            ]
        }
        if let llm {
            value["llm"] = [
                "calls": .number(Number(llm.calls)), "input_tokens": .number(Number(llm.inputTokens)),
                "output_tokens": .number(Number(llm.outputTokens)),
                "cache_creation_tokens": .number(Number(llm.cacheCreationTokens)),
                "cache_read_tokens": .number(Number(llm.cacheReadTokens)),
                "cost": .object(llm.costNanos.mapValues { .number(Number($0, powerOfTen: -9)) }),
                "p50_call_ms": llm.p50LatencyMilliseconds.map { .number(Number($0)) } ?? .null,
                "p95_call_ms": llm.p95LatencyMilliseconds.map { .number(Number($0)) } ?? .null,
            ]
        }
        return .object(value)
    }
}
