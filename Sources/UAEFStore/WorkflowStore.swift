import Foundation
import UAEFCore

/// The persistence every backend provides; the contract tests pin its behaviour down.
///
/// Writes go through ``commit(_:)``: one transaction holding state rows and their events, so a
/// state change and its event are durable together or not at all.
public protocol WorkflowStore: LedgerStore, SettlementStore, RemoteWorkStore, SecretStore, ConnectorStore,
    ConversationStore,
    DeliveryStore, TaskCheckpointStore, AnalyticsStore, ScheduleStore
{
    /// Writes the changes and appends their events (numbered gap-free from 0) in one durable
    /// transaction; throws ``LeaseLost`` and writes nothing when the change set's fence fails.
    ///
    /// Runs are inserted with their owner and lease; updating a run changes its status, error and
    /// times only, so a concurrent cancellation request or lease renewal is never overwritten.
    func commit(_ changes: ChangeSet) async throws

    /// Marks a run for cancellation and appends `event`, touching nothing else of the run; a run
    /// already marked is returned as it is, with no second event. Nil when the tenant has no such run.
    func requestCancel(of run: RunID, tenant: String, event: EventDraft) async throws -> RunRecord?

    /// Reopens `stored`, a run that has ended, so that runners take it up again: in one
    /// transaction, unless the run is still as read (its status, lease generation and update
    /// time), nothing is written and nil is returned (another retry, a claim or a redaction came
    /// first). Otherwise the run becomes `running` with no error, end or cancellation request,
    /// held by `holder` (until its `expiresAt`) or by nobody, takes the next lease generation and
    /// counts one more retry with `retriedAt` set to `at` and `retriedBy` to `retrier`; the tasks
    /// and events of `changes` are written with it, and the run is returned.
    func reopen(
        _ stored: RunRecord, at: Date, by retrier: String, holder: (owner: String, expiresAt: Date)?,
        changes: ChangeSet
    ) async throws -> RunRecord?

    /// Erases the payloads stored beside a finished run's events (all of them, or those of one
    /// task key and its fan-out instances), with the run inputs and task outputs kept in its
    /// state, and appends `event` in the same transaction, its data completed with an `erased`
    /// list of `{"seq", "name", "sha256"}`. The ledger is untouched: the digests stay in it.
    func redactPayloads(of run: RunID, tenant: String, task: String?, event: EventDraft) async throws
        -> RedactionOutcome

    /// The run with its tasks and attempts, or nil.
    func snapshot(of run: RunID, tenant: String) async throws -> RunSnapshot?

    /// The run's record alone, without its tasks and attempts (one row, however large the run),
    /// or nil when `tenant` has no such run.
    func run(_ id: RunID, tenant: String) async throws -> RunRecord?

    /// One task (or fan-out instance) of the tenant's run by its key, alone; nil when there is none.
    func task(_ key: String, of run: RunID, tenant: String) async throws -> TaskRecord?

    /// Runs matching `filter`, newest first.
    func runs(tenant: String, matching filter: RunFilter, limit: Int) async throws -> [RunRecord]

    /// How many of each run's tasks (fan-out instances and their parent included) are in each
    /// status, for those of `runs` that are `tenant`'s; a run with no tasks, or another tenant's,
    /// is absent.
    func taskCounts(of runs: [RunID], tenant: String) async throws -> [RunID: [TaskStatus: Int]]

    /// The latest version of each workflow registered for the tenant, by name.
    func workflows(tenant: String) async throws -> [WorkflowRecord]

    /// Every registered version of one workflow, oldest first (empty when there is none).
    func workflowVersions(named name: String, tenant: String) async throws -> [WorkflowRecord]

    /// How many of the tenant's runs started without waiting (``RunParent/detached``) have not
    /// ended, counted up to `limit`.
    func unfinishedDetachedRuns(tenant: String, limit: Int) async throws -> Int

    /// The run request that holds an idempotency key, or nil.
    func runRequest(key: String, tenant: String) async throws -> RunRequestRecord?

    /// Takes the lease of up to `limit` unfinished runs of `tenant` that no live process holds,
    /// oldest first, for `owner` until `expiresAt`, each at its next lease generation. Runs another
    /// process is claiming at the same moment are skipped, not waited for.
    ///
    /// `isOwnerAlive` tells whether a lease holder recorded on this machine is still running, so a
    /// crashed process's runs are taken over at once instead of after the lease expires.
    func claimUnfinishedRuns(
        tenant: String, owner: String, now: Date, expiresAt: Date, limit: Int,
        isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> [RunID]

    /// Signals that another process made work claimable (a run submitted without a lease, leases
    /// released, an attempt queued for workers), so a worker claims at once rather than at its next
    /// poll; also once when listening starts. Nil for a backend without cross-process
    /// notifications, whose workers only poll.
    func workNotifications() -> AsyncStream<Void>?

    /// Signals after events were committed, so that live event streams read them at once rather
    /// than at their next poll; also once when listening starts. PostgreSQL notifies commits of
    /// every process; SQLite only those of this process (streams still poll for the others').
    func eventNotifications() -> AsyncStream<Void>

    /// Counts across every tenant, for monitoring.
    func statistics(now: Date) async throws -> StoreStatistics

    /// The tenants that have unfinished runs, so a multi-tenant runner knows whose runs to claim.
    func tenantsWithUnfinishedRuns() async throws -> [String]

    /// Every tenant with a run or a settlement rule set: whose outcomes an upkeep pass settles.
    func tenants() async throws -> [String]

    /// Takes the lease of one unfinished run when no live process holds it; false otherwise.
    func claim(
        _ run: RunID, owner: String, now: Date, expiresAt: Date, isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> Bool

    /// Extends to `expiresAt` the leases `owner` holds of `runs` that expire before
    /// `renewingBefore` (one renewed lately is left as it is: no write, no fsync); returns the
    /// runs whose cancellation was requested, renewed or not.
    func renewLeases(owner: String, runs: [RunID], expiresAt: Date, renewingBefore: Date) async throws -> Set<RunID>

    /// Gives up the leases `held.owner` holds of finished or abandoned runs, each only at the
    /// generation it was claimed at: a run claimed again since (after a retry reopened it, say,
    /// by this very process) keeps its new lease.
    func releaseLeases(_ held: LeaseFence) async throws

    /// Agents of a tenant, in registration order.
    func agents(tenant: String) async throws -> [AgentRecord]

    /// Attempts running now per agent in runs that other live processes hold (lease not expired),
    /// so this process counts them against each agent's `max_concurrency`.
    func attemptsRunningElsewhere(tenant: String, owner: String, now: Date) async throws -> [AgentID: Int]

    /// Metrics of one agent from its attempts.
    func metrics(of agent: AgentID) async throws -> AgentMetrics

    /// Metrics of each of `agents` from their attempts, in one query (lists of agents).
    func metrics(of agents: [AgentID]) async throws -> [AgentID: AgentMetrics]

    /// Events from `seq` on, in order, of every tenant: for the operator's own tools.
    func events(from seq: Int64, limit: Int) async throws -> [EventRecord]

    /// `tenant`'s events with a seq in `range`, in order. Only that tenant's rows are read, so
    /// another tenant's events (even an unreadable one) never reach or stop this tenant's readers.
    /// Find the range with ``eventHeaders(from:limit:)``, which reads no event data.
    func events(in range: Range<Int64>, tenant: String) async throws -> [EventRecord]

    /// Up to `limit` events of one run of `tenant` (the run's own and its tasks', whose subjects
    /// are `run` and `run/…`) with a seq from `seq` on, in order; read through an index, so
    /// their cost does not grow with the log.
    func runEvents(of run: RunID, tenant: String, from seq: Int64, limit: Int) async throws -> [EventRecord]

    /// Up to `limit` events of one task (or fan-out instance) `key` of a run of `tenant` (the
    /// subject `run/key`) with a seq from `seq` on, in order, read through the same index as
    /// ``runEvents(of:tenant:from:limit:)``.
    func taskEvents(of run: RunID, key: String, tenant: String, from seq: Int64, limit: Int) async throws
        -> [EventRecord]

    /// What identifies events from `seq` on, in order, without their data: for readers (such as
    /// settlement) that look at most events only to skip them.
    func eventHeaders(from seq: Int64, limit: Int) async throws -> [EventHeader]
}

/// One page of a tenant's events: those among the next events of the log.
public struct TenantEventPage: Sendable {
    /// The tenant's events in the page, in order.
    public var records: [EventRecord]
    /// Where the next page starts: after the last event of the log looked at.
    public var next: Int64
}

extension WorkflowStore {
    /// `tenant`'s events among the `scanning` events of the log from `seq` on, or nil when the log
    /// has none from there. Only that tenant's event rows are read (the others' headers only), so
    /// another tenant's events never reach, slow or stop this reader.
    public func tenantEvents(from seq: Int64, scanning limit: Int, tenant: String) async throws -> TenantEventPage? {
        let headers = try await eventHeaders(from: seq, limit: limit)
        guard let first = headers.first, let last = headers.last else { return nil }
        let records =
            headers.contains { $0.tenant == tenant }
            ? try await events(in: first.seq..<(last.seq + 1), tenant: tenant) : []
        return TenantEventPage(records: records, next: last.seq + 1)
    }
}
