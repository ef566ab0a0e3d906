import Foundation
import UAEFCore

/// One task attempt executed away from the process orchestrating its run: queued by the engine,
/// claimed with a lease (each claim a new generation) by a remote agent over the HTTP API or by a
/// `uaef worker` that serves its capability, finished by the claimant with its output or error.
public struct RemoteTaskRecord: Sendable, Hashable {
    /// Who claims the task.
    public enum Placement: String, Sendable, Hashable {
        /// The registered remote agent it names, over the HTTP API.
        case agent
        /// Any `uaef worker` that serves the task's capability, straight from the store; the
        /// worker executes it with the agent kind ``RemoteTaskRecord/kind``.
        case worker
    }

    public enum Status: String, Sendable, Hashable {
        /// Waiting for the agent to claim it (also again after a lease expired).
        case queued
        /// Held by the agent until `leaseExpiresAt`, extended by heartbeats.
        case claimed
        case succeeded, failed
        /// The attempt ended first (timeout, run cancelled): a late completion is refused.
        case cancelled

        public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
    }

    public var id: String
    public var tenant: String
    public var placement: Placement
    /// The agent the task was assigned to.
    public var agentID: AgentID
    /// For a worker task: the agent's kind, which the worker executes it with.
    public var kind: String?
    public var runID: RunID
    public var workflow: String
    public var key: String
    /// The capability the task asked for, which an agent may filter its claims by.
    public var capability: String?
    public var attempt: Int
    /// The attempt's idempotency key (`<run>/<key>/<attempt>`): one remote task per attempt.
    public var idempotencyKey: String
    public var input: [String: JSONValue]
    public var status: Status
    /// Incremented by every claim; a heartbeat or completion must name the current one.
    public var generation: Int64
    public var leaseExpiresAt: Date?
    public var output: JSONValue?
    public var error: String?
    /// For a failure: whether the engine may retry the task.
    public var retryable: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenant: String, placement: Placement = .agent, agentID: AgentID, kind: String? = nil,
        runID: RunID, workflow: String, key: String,
        capability: String? = nil, attempt: Int,
        idempotencyKey: String, input: [String: JSONValue], status: Status = .queued, generation: Int64 = 0,
        leaseExpiresAt: Date? = nil, output: JSONValue? = nil, error: String? = nil, retryable: Bool = true,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenant = tenant
        self.placement = placement
        self.agentID = agentID
        self.kind = kind
        self.runID = runID
        self.workflow = workflow
        self.key = key
        self.capability = capability
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.input = input
        self.status = status
        self.generation = generation
        self.leaseExpiresAt = leaseExpiresAt
        self.output = output
        self.error = error
        self.retryable = retryable
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What a remote agent reports on a task it holds.
public enum RemoteTaskChange: Sendable, Hashable {
    /// Still working: extend the lease.
    case heartbeat(until: Date)
    case succeed(JSONValue)
    case fail(String, retryable: Bool)
    /// Stopping without an outcome: the task is queued again for anyone to claim at once.
    case release
}

/// The outcome of ``WorkflowStore/updateRemoteTask(_:tenant:generation:change:now:)``.
public enum RemoteTaskUpdate: Sendable, Hashable {
    case updated(RemoteTaskRecord)
    /// The task was claimed again since (a newer generation), finished or cancelled: nothing changed.
    case leaseLost(RemoteTaskRecord)
    case notFound
}

/// An API key of a remote agent, stored only as its SHA-256.
public struct AgentKeyRecord: Sendable, Hashable {
    /// The key's public prefix, e.g. `uaef_ak_3f9a1c2e`, to tell keys apart in lists.
    public var id: String
    public var tenant: String
    public var agentID: AgentID
    /// Hex SHA-256 of the whole key.
    public var sha256: String
    public var createdAt: Date
    public var createdBy: String

    public init(id: String, tenant: String, agentID: AgentID, sha256: String, createdAt: Date, createdBy: String) {
        self.id = id
        self.tenant = tenant
        self.agentID = agentID
        self.sha256 = sha256
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// The queue of attempts executed away from their run's process (by remote agents and by
/// workers that serve a capability) and agent keys, part of every ``WorkflowStore``.
public protocol RemoteWorkStore: Sendable {
    /// Queues a task for a remote agent, once per attempt: when the attempt's task exists (a
    /// resumed run executing the attempt again) it is returned as it stands.
    func enqueueRemoteTask(_ task: RemoteTaskRecord) async throws -> RemoteTaskRecord

    /// The task, or nil.
    func remoteTask(_ id: String, tenant: String) async throws -> RemoteTaskRecord?

    /// Claims the oldest task of `placement` that is queued or whose lease expired before `now`
    /// (of `agent` when given; asking for one of `capabilities` when given), with a new generation
    /// and a lease until `leaseUntil`; nil when there is none. Concurrent claims, from any process,
    /// never get the same task.
    func claimQueuedTask(
        placement: RemoteTaskRecord.Placement, agent: AgentID?, capabilities: [String]?, tenant: String, now: Date,
        leaseUntil: Date
    ) async throws -> RemoteTaskRecord?

    /// Applies a change from the agent or worker holding `generation` of a claimed task.
    func updateRemoteTask(_ id: String, tenant: String, generation: Int64, change: RemoteTaskChange, now: Date)
        async throws -> RemoteTaskUpdate

    /// Marks the tenant's tasks of these attempts (by their idempotency keys) cancelled unless
    /// they already finished, so they are claimed no more and their claimants' next heartbeat or
    /// outcome is refused; how many were.
    @discardableResult
    func cancelRemoteTasks(idempotencyKeys: [String], tenant: String, now: Date) async throws -> Int

    /// Marks every unfinished task of the tenant's run `run` cancelled (its queued attempts and
    /// those of calls its attempts made), as ``cancelRemoteTasks(idempotencyKeys:tenant:now:)`` does; how
    /// many were.
    @discardableResult
    func cancelRemoteTasks(ofRun run: RunID, tenant: String, now: Date) async throws -> Int

    func saveAgentKey(_ key: AgentKeyRecord) async throws

    /// The key whose SHA-256 is `sha256`, or nil.
    func agentKey(sha256: String) async throws -> AgentKeyRecord?
}

extension RemoteWorkStore {
    /// Claims the oldest agent-placed task of `agent` (asking for one of `capabilities`, when not
    /// empty), as ``claimQueuedTask(placement:agent:capabilities:tenant:now:leaseUntil:)`` does.
    public func claimRemoteTask(
        agent: AgentID, capabilities: [String], tenant: String, now: Date, leaseUntil: Date
    ) async throws -> RemoteTaskRecord? {
        try await claimQueuedTask(
            placement: .agent, agent: agent, capabilities: capabilities.isEmpty ? nil : capabilities, tenant: tenant,
            now: now, leaseUntil: leaseUntil)
    }

    /// Claims the oldest worker-placed task asking for one of `capabilities` (nil: any).
    public func claimWorkerTask(capabilities: [String]?, tenant: String, now: Date, leaseUntil: Date) async throws
        -> RemoteTaskRecord?
    {
        try await claimQueuedTask(
            placement: .worker, agent: nil, capabilities: capabilities, tenant: tenant, now: now, leaseUntil: leaseUntil
        )
    }
}

/// The column values a ``RemoteTaskChange`` writes, the same on every backend.
public enum RemoteTaskColumns {
    /// (status, new lease expiry, output, error, retryable).
    public static func values(for change: RemoteTaskChange) -> (
        RemoteTaskRecord.Status, Date?, JSONValue?, String?, Bool
    ) {
        switch change {
        case .heartbeat(let until): (.claimed, until, nil, nil, true)
        case .succeed(let output): (.succeeded, nil, output, nil, false)
        case .fail(let error, let retryable): (.failed, nil, nil, error, retryable)
        case .release: (.queued, nil, nil, nil, true)
        }
    }
}
