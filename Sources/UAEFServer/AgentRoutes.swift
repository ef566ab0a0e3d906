import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFStore

/// `/v1/agents`: register agents (an agents document, YAML or JSON, as `uaef agents register
/// --file` reads), list them with metrics, read one, and move them through their lifecycle.
struct AgentRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    var runtime: ServerRuntime { operations.runtime }

    var store: any WorkflowStore { runtime.engine.store }

    func registry(_ tenant: String) -> AgentRegistry {
        AgentRegistry(store: store, kinds: runtime.engine.kinds, tenant: tenant)
    }

    func add(to group: RouterGroup<APIContext>) {
        group.post("agents") { request, context in
            let principal = try context.require(.writeAgents)
            let text = try await JSONMessage.text(of: request, limit: bodyLimit)
            let specs = try AgentFileParser.parse(
                text, file: "request body", kinds: Set(runtime.engine.kinds.kinds.keys))
            let agents = try await registry(principal.tenant).register(
                specs, actor: principal.actor, administrator: principal.roles.contains(.admin))
            return JSONMessage.response(
                ["agents": .array(agents.map { AgentReport.json($0, metrics: nil) })], status: .created)
        }
        group.get("agents") { _, context in
            let principal = try context.require(.read)
            let agents = try await store.agents(tenant: principal.tenant)
            let metrics = try await store.metrics(of: agents.map(\.id))
            return JSONMessage.response([
                "agents": .array(
                    agents.map { AgentReport.json($0, metrics: metrics[$0.id] ?? AgentMetrics(attempts: [])) })
            ])
        }
        group.get("agents/:id") { _, context in
            let principal = try context.require(.read)
            let agent = try await find(try context.parameters.require("id"), tenant: principal.tenant)
            let llm =
                agent.kind == "llm" ? try await store.conversationTotals(tenant: agent.tenant, agent: agent.name) : nil
            return JSONMessage.response(
                AgentReport.json(agent, metrics: try await store.metrics(of: agent.id), llm: llm))
        }
        for (verb, status) in APIOperations.agentMoves {
            group.post("agents/:id/\(verb)") { _, context in
                let principal = try context.require(.writeAgents)
                let moved = try await operations.moveAgent(
                    try context.parameters.require("id"), to: status, by: principal)
                return JSONMessage.response(AgentReport.json(moved, metrics: nil))
            }
        }
    }

    /// The tenant's agent with this id or name, or a 404.
    private func find(_ idOrName: String, tenant: String) async throws -> AgentRecord {
        guard let agent = try await registry(tenant).find(idOrName) else { throw Problem.notFound("agent \(idOrName)") }
        return agent
    }
}
