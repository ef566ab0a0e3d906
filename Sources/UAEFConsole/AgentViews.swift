import Foundation
import UAEFCore
import UAEFStore

/// What the agents page shows: each agent of the tenant with its load, outcomes and latency, the
/// model use of `llm` agents, and the lifecycle moves the principal may make.
public struct AgentsView: Sendable {
    /// One agent.
    public struct Row: Sendable {
        /// A lifecycle move offered for the agent.
        public struct Move: Sendable {
            public var verb: String
            public var label: String
            public var danger: Bool
        }

        public var id: String
        public var name: String
        public var kind: String
        public var capabilities: String
        public var status: String
        public var running: Int
        public var maxConcurrency: Int
        /// `running of max`, for the load bar's text.
        public var load: String
        /// The load bar's width in percent (0 to 100).
        public var loadPercent: Int
        public var attempts: Int
        public var successes: Int
        public var failures: Int
        public var p50: String
        public var p95: String
        public var lastActive: String
        /// Model calls, tokens and cost of an `llm` agent; nil for other kinds.
        public var llm: String?
        public var moves: [Move]
        public var csrf: String
    }

    public var agents: [Row]

    /// The view of `agents` with their `metrics` and, for `llm` agents, their model `usage`;
    /// `mayManage` offers lifecycle moves.
    public init(
        agents: [AgentRecord], metrics: [AgentID: AgentMetrics], usage: [AgentID: ConversationTotals],
        mayManage: Bool, csrf: String
    ) {
        self.agents = agents.map { agent in
            let metrics = metrics[agent.id]
            let running = metrics?.runningNow ?? 0
            let moves = mayManage ? Self.moves(from: agent.status) : []
            return Row(
                id: agent.id.rawValue, name: agent.name, kind: agent.kind,
                capabilities: agent.capabilities.joined(separator: ", "), status: agent.status.rawValue,
                running: running, maxConcurrency: agent.maxConcurrency,
                load: "\(running) of \(agent.maxConcurrency)",
                loadPercent: agent.maxConcurrency > 0 ? min(100, running * 100 / agent.maxConcurrency) : 0,
                attempts: metrics?.attempts ?? 0, successes: metrics?.successes ?? 0, failures: metrics?.failures ?? 0,
                p50: metrics?.p50Milliseconds.map { ElapsedText.format(Double($0) / 1000) } ?? "—",
                p95: metrics?.p95Milliseconds.map { ElapsedText.format(Double($0) / 1000) } ?? "—",
                lastActive: metrics?.lastActiveAt.map(Timestamp.format) ?? "—",
                llm: usage[agent.id].map(Self.usage), moves: moves, csrf: csrf)
        }
    }

    /// The lifecycle moves out of `status`.
    static func moves(from status: AgentStatus) -> [Row.Move] {
        let retire = Row.Move(verb: "retire", label: "Retire", danger: true)
        return switch status {
        case .registered, .suspended: [.init(verb: "activate", label: "Activate", danger: false), retire]
        case .active: [.init(verb: "suspend", label: "Suspend", danger: false), retire]
        case .retired: []
        }
    }

    /// `12 calls, 3400 in / 560 out tokens, 0.0123 USD`.
    static func usage(_ totals: ConversationTotals) -> String {
        let cost = totals.costNanos.sorted { $0.key < $1.key }.map { currency, nanos in
            "\(Number(nanos, powerOfTen: -9).description) \(currency)"
        }
        return "\(totals.calls) calls, \(totals.inputTokens) in / \(totals.outputTokens) out tokens"
            + (totals.cacheReadTokens > 0 ? ", \(totals.cacheReadTokens) cache reads" : "")
            + (cost.isEmpty ? "" : ", " + cost.joined(separator: " + "))
    }
}
