import UAEFCore
import UAEFStore

/// The registered agents and how busy each is: picks the agent for a capability task.
///
/// A value type, so assignment is decided without I/O and tested directly.
public struct AgentPool: Sendable {
    public private(set) var agents: [AgentRecord]
    private var running: [AgentID: Int] = [:]
    /// Attempts other processes run on each agent, as last read from the store.
    public private(set) var busyElsewhere: [AgentID: Int] = [:]

    public init(agents: [AgentRecord], busyElsewhere: [AgentID: Int] = [:]) {
        self.agents = agents
        self.busyElsewhere = busyElsewhere
    }

    /// Replaces the registry and what other processes run on each agent (after a reload),
    /// keeping the counts of this process's attempts in flight.
    public mutating func update(agents: [AgentRecord], busyElsewhere: [AgentID: Int]) {
        self.agents = agents
        self.busyElsewhere = busyElsewhere
    }

    /// Attempts in flight on `agent`, in this process and in others as last read.
    public func runningCount(of agent: AgentID) -> Int { running[agent, default: 0] + busyElsewhere[agent, default: 0] }

    /// True when some registered, non-retired agent offers `capability` (active or not).
    public func isOffered(_ capability: String) -> Bool {
        agents.contains { $0.status != .retired && $0.capabilities.contains(capability) }
    }

    /// Reserves the least busy active agent with `capability` and a free slot; ties go to the
    /// earliest registered. Nil when none is free. Counting other processes' attempts is as good
    /// as the last reload: two processes starting at the same instant may both take a last slot.
    public mutating func reserve(_ capability: String) -> AgentRecord? {
        var best: AgentRecord?
        var bestLoad = Int.max
        for agent in agents where agent.status == .active && agent.capabilities.contains(capability) {
            let load = runningCount(of: agent.id)
            if load < agent.maxConcurrency, load < bestLoad {
                best = agent
                bestLoad = load
            }
        }
        if let best { running[best.id, default: 0] += 1 }
        return best
    }

    /// Frees the slot an attempt held.
    public mutating func release(_ agent: AgentID) {
        if let count = running[agent], count > 1 { running[agent] = count - 1 } else { running[agent] = nil }
    }
}
