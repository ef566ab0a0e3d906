import Foundation
import UAEFCore
import UAEFStore

/// Registers agents and moves them through their lifecycle, each change with its event.
///
/// `registered → active ⇄ suspended`, and any of them `→ retired`, which is final.
public struct AgentRegistry: Sendable {
    let store: any WorkflowStore
    let kinds: AgentKindRegistry
    let tenant: String

    public init(store: any WorkflowStore, kinds: AgentKindRegistry, tenant: String) {
        self.store = store
        self.kinds = kinds
        self.tenant = tenant
    }

    /// The agent kinds agents may have.
    public var kindNames: Set<String> { Set(kinds.kinds.keys) }

    /// Registers every spec in one transaction, or none when any is invalid or its name is taken.
    /// Agents of kinds that act on the host (``AgentKindRegistry/agentOnly``) need
    /// `administrator` (an API principal with the admin role; the CLI's local user is one).
    public func register(_ specs: [AgentSpec], actor: String, administrator: Bool = true) async throws
        -> [AgentRecord]
    {
        let existing = Set(try await store.agents(tenant: tenant).map(\.name))
        var problems: [ValidationIssue] = []
        for spec in specs {
            for problem in spec.problems(kinds: Set(kinds.kinds.keys)) {
                problems.append(ValidationIssue(file: "agent \(spec.name)", line: nil, field: "", message: problem))
            }
            if kinds.agentOnly.contains(spec.kind) && !administrator {
                problems.append(
                    ValidationIssue(
                        file: "agent \(spec.name)", line: nil, field: "kind",
                        message:
                            "agents of kind \(spec.kind) act on the server's host; only an administrator (role admin) may register one"
                    ))
            } else if kinds[spec.kind]?.actsOnHost(configuration: spec.configuration) == true && !administrator {
                problems.append(
                    ValidationIssue(
                        file: "agent \(spec.name)", line: nil, field: "config",
                        message:
                            "this agent would start programs on the server's host (an MCP server's command); only an administrator (role admin) may register one"
                    ))
            }
            if existing.contains(spec.name) {
                problems.append(
                    ValidationIssue(
                        file: "agent \(spec.name)", line: nil, field: "name",
                        message: "an agent named \(spec.name) is already registered"))
            }
        }
        guard problems.isEmpty else { throw ValidationFailure(issues: problems) }
        var random = SeededRandom.system()
        let now = Date()
        var changes = ChangeSet()
        for spec in specs {
            let record = AgentRecord(
                id: AgentID.generate(at: now, using: &random), tenant: tenant, name: spec.name, kind: spec.kind,
                capabilities: spec.capabilities, configuration: spec.configuration, maxConcurrency: spec.maxConcurrency,
                status: spec.activate ? .active : .registered, createdAt: now, updatedAt: now)
            changes.agents.append(record)
            changes.events.append(
                event(
                    "agent.registered", record, actor: actor, now: now, random: &random,
                    data: [
                        "name": .string(spec.name), "kind": .string(spec.kind),
                        "capabilities": .array(spec.capabilities.map(JSONValue.string)),
                        "max_concurrency": .number(Number(spec.maxConcurrency)),
                    ]))
            if spec.activate {
                changes.events.append(event("agent.activated", record, actor: actor, now: now, random: &random))
            }
        }
        try await store.commit(changes)
        return changes.agents
    }

    /// The agent with this id or name.
    public func find(_ idOrName: String) async throws -> AgentRecord? {
        try await store.agents(tenant: tenant).first { $0.id.rawValue == idOrName || $0.name == idOrName }
    }

    /// Moves an agent to `status`, refusing moves the lifecycle does not allow.
    public func setStatus(_ idOrName: String, to status: AgentStatus, actor: String) async throws -> AgentRecord {
        guard var agent = try await find(idOrName) else {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: "agent", line: nil, field: idOrName,
                    message: "no agent with this id or name in tenant \(tenant)")
            ])
        }
        guard agent.status != status else { return agent }
        let allowed: Bool
        switch (agent.status, status) {
        case (.retired, _): allowed = false
        case (_, .retired), (.registered, .active), (.active, .suspended), (.suspended, .active): allowed = true
        default: allowed = false
        }
        guard allowed else {
            // The request is well formed; the agent's current state refuses it (HTTP 409).
            throw Refusal(
                "agent \(agent.name) cannot go from \(agent.status.rawValue) to \(status.rawValue); allowed: registered → active ⇄ suspended, any → retired (final)"
            )
        }
        var random = SeededRandom.system()
        let now = Date()
        let verb =
            ["active": "activated", "suspended": "suspended", "retired": "retired"][status.rawValue] ?? status.rawValue
        let previous = agent.status
        agent.status = status
        agent.updatedAt = now
        var changes = ChangeSet()
        changes.agents.append(agent)
        changes.events.append(
            event(
                "agent.\(verb)", agent, actor: actor, now: now, random: &random,
                data: ["from": .string(previous.rawValue)]))
        try await store.commit(changes)
        return agent
    }

    private func event(
        _ type: String, _ agent: AgentRecord, actor: String, now: Date, random: inout SeededRandom,
        data: [String: JSONValue] = [:]
    ) -> EventDraft {
        EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type, actor: actor, tenant: tenant,
            subject: agent.id.rawValue, data: data)
    }
}
