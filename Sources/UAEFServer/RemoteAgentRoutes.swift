import Foundation
import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFStore

/// The remote-agent protocol. An agent registered with kind `remote` gets the attempts the
/// engine assigns it by capability; a program anywhere claims them with a long poll, heartbeats
/// while it works and completes or fails each one:
///
/// - `POST /v1/agents/{id}/keys`: a new API key for the agent (shown once; operators).
/// - `POST /v1/agents/{id}/claim?wait=30s[&capability=C…]`: one task `{"task_id", "generation", …,
///   "input"}` (of the given capabilities only, when named), or 204 when none came within `wait`
///   (at most 60 s). `{id}` may be `me` with an agent key.
/// - `POST /v1/agents/{id}/tasks/{task}/heartbeat` `{"generation"}`: extends the lease.
/// - `POST /v1/agents/{id}/tasks/{task}/complete` `{"generation", "output"}`.
/// - `POST /v1/agents/{id}/tasks/{task}/fail` `{"generation", "error", "retryable"?}`.
///
/// A lease not extended in time lets the task be claimed again with the next generation; a
/// heartbeat or completion naming an older generation (or a task the engine gave up on) gets 409.
struct RemoteAgentRoutes {
    let runtime: ServerRuntime
    let bodyLimit: Int
    /// How long a claim or heartbeat holds the task.
    let leaseDuration: Duration
    /// How often a waiting claim looks for work.
    let claimPollInterval: Duration = .milliseconds(100)

    var store: any WorkflowStore { runtime.engine.store }

    func add(to group: RouterGroup<APIContext>) {
        group.post("agents/:id/keys") { _, context in
            let principal = try context.require(.writeAgents)
            let agent = try await agent(try context.parameters.require("id"), of: principal)
            let (key, record) = AgentKeys.make(for: agent, actor: principal.actor)
            try await store.saveAgentKey(record)
            return JSONMessage.response(
                ["key": .string(key), "id": .string(record.id), "agent_id": .string(agent.id.rawValue)],
                status: .created)
        }
        group.post("agents/:id/claim") { request, context in
            let principal = try context.require(.agentWork)
            let agent = try await workingAgent(try context.parameters.require("id"), of: principal)
            let wait = try Self.duration(request.textQuery("wait") ?? "0s", upTo: .seconds(60), name: "wait")
            let capabilities = request.uri.queryParameters.getAll("capability").map { String($0) }
            let deadline = ContinuousClock.now + wait
            while true {
                let seen = runtime.wakeups?.generation ?? 0
                let now = Date()
                if let task = try await store.claimRemoteTask(
                    agent: agent.id, capabilities: capabilities, tenant: principal.tenant, now: now,
                    leaseUntil: now.addingTimeInterval(leaseSeconds))
                {
                    return JSONMessage.response(Self.json(task))
                }
                guard ContinuousClock.now < deadline, !Task.isCancelled else { return Response(status: .noContent) }
                if let wakeups = runtime.wakeups {
                    // Woken when a task is queued; the second is a safety net for expired leases.
                    await wakeups.wait(after: seen, atMost: min(deadline - ContinuousClock.now, .seconds(1)))
                } else {
                    try await Task.sleep(for: claimPollInterval)
                }
            }
        }
        for verb in ["heartbeat", "complete", "fail"] {
            group.post("agents/:id/tasks/:task/\(verb)") { request, context in
                let principal = try context.require(.agentWork)
                let agent = try await workingAgent(try context.parameters.require("id"), of: principal)
                let taskID = try context.parameters.require("task")
                // A task queued for workers is never the agent's to finish, even when assigned to it.
                guard let task = try await store.remoteTask(taskID, tenant: principal.tenant),
                    task.placement == .agent, task.agentID == agent.id
                else { throw Problem.notFound("task \(taskID) of agent \(agent.name)") }
                let body = try await JSONMessage.object(of: request, limit: bodyLimit)
                let change = try Self.change(verb, body, leaseUntil: Date().addingTimeInterval(leaseSeconds))
                guard let generation = body["generation"]?.numberValue?.intValue else {
                    throw Problem(
                        .unprocessableContent, "validation-failed", "generation: required, the one the claim returned")
                }
                switch try await store.updateRemoteTask(
                    task.id, tenant: principal.tenant, generation: Int64(generation), change: change, now: Date())
                {
                case .updated(let updated):
                    return JSONMessage.response(Self.json(updated))
                case .leaseLost(let current):
                    throw Problem(
                        .conflict, "lease-lost",
                        "task \(task.id) is \(current.status.rawValue) at generation \(current.generation); generation \(generation) no longer holds it"
                    )
                case .notFound:
                    throw Problem.notFound("task \(taskID)")
                }
            }
        }
    }

    private var leaseSeconds: Double { leaseDuration.timeInterval }

    /// The tenant's agent `idOrName` (404 when another tenant's or unknown).
    private func agent(_ idOrName: String, of principal: Principal) async throws -> AgentRecord {
        let registry = AgentRegistry(store: store, kinds: runtime.engine.kinds, tenant: principal.tenant)
        guard let agent = try await registry.find(idOrName) else { throw Problem.notFound("agent \(idOrName)") }
        return agent
    }

    /// The agent a caller works as: its own (an agent key or an `agent` token whose subject is the
    /// agent), or any of the tenant's for an administrator; it must be an active remote agent.
    private func workingAgent(_ idOrName: String, of principal: Principal) async throws -> AgentRecord {
        let isAdmin = principal.roles.contains(.admin)
        let agent = try await agent(idOrName == "me" ? principal.subject : idOrName, of: principal)
        guard isAdmin || agent.id.rawValue == principal.subject || agent.name == principal.subject else {
            throw Problem(.forbidden, "forbidden", "\(principal.subject) may only work as itself, not as \(agent.name)")
        }
        guard agent.kind == "remote" else {
            throw Problem(
                .conflict, "not-remote", "agent \(agent.name) is of kind \(agent.kind); only remote agents claim work")
        }
        guard agent.status == .active else {
            throw Problem(
                .conflict, "agent-inactive", "agent \(agent.name) is \(agent.status.rawValue); activate it to take work"
            )
        }
        return agent
    }

    /// What a heartbeat, completion or failure body asks for.
    static func change(_ verb: String, _ body: [String: JSONValue], leaseUntil: Date) throws -> RemoteTaskChange {
        switch verb {
        case "heartbeat":
            try JSONMessage.checkMembers(body, allowed: ["generation"], in: "the heartbeat")
            return .heartbeat(until: leaseUntil)
        case "complete":
            try JSONMessage.checkMembers(body, allowed: ["generation", "output"], in: "the completion")
            return .succeed(body["output"] ?? .null)
        default:
            try JSONMessage.checkMembers(body, allowed: ["generation", "error", "retryable"], in: "the failure")
            guard let error = body["error"]?.stringValue, !error.isEmpty else {
                throw Problem(.unprocessableContent, "validation-failed", "error: required, what went wrong")
            }
            return .fail(error, retryable: body["retryable"] != .bool(false))
        }
    }

    static func duration(_ text: String, upTo limit: Duration, name: String) throws -> Duration {
        guard let duration = DurationText.parse(text), duration <= limit else {
            throw Problem.badRequest(
                "\(name)=\(text): expected \(DurationText.expectation), at most \(DurationText.format(limit))")
        }
        return duration
    }

    /// What an agent sees of a task.
    static func json(_ task: RemoteTaskRecord) -> JSONValue {
        [
            "task_id": .string(task.id), "generation": .number(Number(Int(task.generation))),
            "status": .string(task.status.rawValue), "run_id": .string(task.runID.rawValue),
            "workflow": .string(task.workflow), "key": .string(task.key), "attempt": .number(Number(task.attempt)),
            "capability": task.capability.map(JSONValue.string) ?? .null,
            "idempotency_key": .string(task.idempotencyKey), "input": .object(task.input),
            "lease_expires_at": task.leaseExpiresAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }
}
