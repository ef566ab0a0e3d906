import Foundation
import Logging
import PostgresNIO
import Synchronization
import UAEFCore
import UAEFStore

/// The shared store: one PostgreSQL database that many `uaef` processes use at once.
///
/// Every write is one transaction holding its state rows and its events; the ledger's sequencer
/// row (`ledger_state`) is locked last and only for the append, so events stay one gap-free order
/// across all nodes while the rest of each transaction runs in parallel. Queries bind every value
/// as a parameter; no SQL is built from data.
public final class PostgresStore: WorkflowStore {
    let client: PostgresClient
    let logger: Logger
    /// The connection pool's run, when the store runs it itself (``connect(_:migrate:logger:)``);
    /// nil when a caller's scope runs it (``withStore(_:migrate:logger:_:)``).
    private let ownPool: Task<Void, Never>?
    /// Tasks listening for work notifications, stopped on close.
    let listeners = Mutex<[Task<Void, Never>]>([])
    /// Where the store lives, password hidden.
    public let location: String

    /// Connects to the database `url` names and applies pending migrations (unless `migrate` is
    /// false). The store runs its connection pool in a task of its own until ``close()``: for
    /// one-shot commands. Long-running processes use ``withStore(_:migrate:logger:_:)``.
    public static func connect(
        _ url: PostgresURL, migrate: Bool = true, logger: Logger = Logger(label: "uaef.store.postgres")
    ) async throws -> PostgresStore {
        try await probe(url, logger: logger)
        let store = try PostgresStore(url: url, logger: logger, runsOwnPool: true)
        if migrate {
            do {
                try await store.migrate()
            } catch {
                await store.close()
                throw error
            }
        }
        return store
    }

    /// Connects to the database `url` names, applies pending migrations (unless `migrate` is
    /// false) and runs `body` with the store; the connection pool runs as a child task of this
    /// call for exactly as long as `body`, so the pool's lifetime is structured and a failure of
    /// the pool ends the scope.
    public static func withStore<Result>(
        _ url: PostgresURL, migrate: Bool = true, logger: Logger = Logger(label: "uaef.store.postgres"),
        _ body: (PostgresStore) async throws -> Result
    ) async throws -> Result {
        try await probe(url, logger: logger)
        let store = try PostgresStore(url: url, logger: logger, runsOwnPool: false)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.client.run() }
            defer {
                for listener in store.listeners.withLock({ $0 }) { listener.cancel() }
                group.cancelAll()
            }
            if migrate { try await store.migrate() }
            return try await body(store)
        }
    }

    /// One direct connection, so that a wrong URL, a missing database or a refused login is
    /// reported as the server or the network put it, at once.
    public static func probe(_ url: PostgresURL, logger: Logger = Logger(label: "uaef.store.postgres")) async throws {
        do {
            let probe = try await PostgresConnection.connect(
                configuration: try url.connectionConfiguration(), id: 0, logger: logger)
            try await probe.close()
        } catch {
            throw PostgresStoreError.wrap(error, location: url.redacted)
        }
    }

    private init(url: PostgresURL, logger: Logger, runsOwnPool: Bool) throws {
        var configuration = url.clientConfiguration()
        configuration.options.maximumConnections = 8
        configuration.options.connectionIdleTimeout = .seconds(60)
        // The pool's own chatter (such as a lease asked for in the instant before `run()` starts)
        // is not the user's business; errors still reach the log.
        var poolLogger = logger
        poolLogger.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        self.client = client
        self.logger = logger
        location = url.redacted
        ownPool = runsOwnPool ? Task { await client.run() } : nil
    }

    /// Closes every connection of a store that runs its own pool; a scoped store's pool closes
    /// as its scope ends.
    public func close() async {
        for listener in listeners.withLock({ $0 }) { listener.cancel() }
        ownPool?.cancel()
        await ownPool?.value
    }

    deinit { ownPool?.cancel() }

    /// Applies pending migrations; returns the names applied now (empty when up to date).
    @discardableResult
    public func migrate() async throws -> [String] {
        try await PostgresMigrations.migrate(client, location: location, logger: logger)
    }

    /// Migrations this build knows that the database lacks.
    public func pendingMigrations() async throws -> [String] {
        do {
            return try await PostgresMigrations.pending(client, logger: logger)
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
    }

    /// Runs `body` in one transaction on a pooled connection; the error thrown is the body's own
    /// (or the commit's), not a wrapper.
    static func transaction<Result: Sendable>(
        _ client: PostgresClient, location: String, logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw PostgresStoreError.wrap(
                error.closureError ?? error.commitError ?? error.beginError ?? error, location: location)
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
    }

    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await Self.transaction(client, location: location, logger: logger, body)
    }

    /// Runs `body`'s reads in one read-only transaction at `REPEATABLE READ`: each of its statements
    /// sees the database as of the first, whatever commits in between.
    func consistentRead<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withConnection { connection in
                // One round trip less than a transaction begun, then set.
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                do {
                    let result = try await body(connection)
                    try await connection.query("COMMIT", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
    }

    /// Collects every row of `query` on `connection` mapped by `transform`.
    func rows<T>(
        on connection: PostgresConnection, _ query: PostgresQuery, _ transform: (PostgresRow) throws -> T
    ) async throws -> [T] {
        var result: [T] = []
        for try await row in try await connection.query(query, logger: logger) { result.append(try transform(row)) }
        return result
    }

    /// Collects every row of `query` mapped by `transform`.
    func rows<T>(_ query: PostgresQuery, _ transform: (PostgresRow) throws -> T) async throws -> [T] {
        do {
            var result: [T] = []
            for try await row in try await client.query(query, logger: logger) { result.append(try transform(row)) }
            return result
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
    }

    /// Runs a statement outside any explicit transaction.
    func execute(_ query: PostgresQuery) async throws {
        do {
            try await client.query(query, logger: logger)
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
    }

    // MARK: Writes

    public func commit(_ changes: ChangeSet) async throws {
        guard !changes.isEmpty else { return }
        try await transaction { connection in
            if let fence = changes.fence { try await Self.check(fence, on: connection, logger: logger) }
            try await Self.write(changes, on: connection, logger: logger)
            try await Self.insertKeys(of: changes, on: connection, logger: logger)
            try await PostgresLedger.append(changes.events, on: connection, logger: logger)
            if changes.runs.contains(where: { $0.owner == nil && !$0.status.isTerminal }) {
                try await Self.notifyWork(on: connection, logger: logger)
            }
        }
    }

    /// Inserts the change set's workflow versions and run requests, throwing ``KeyTaken`` (rolling
    /// the transaction back) when one is already there; writes its conversation steps, schedule
    /// firings (``ScheduleClaimLost`` when a claim was lost) and task checkpoints.
    private static func insertKeys(of changes: ChangeSet, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        for workflow in changes.workflows {
            let inserted = try await connection.query(
                """
                INSERT INTO workflows (tenant, name, version, source, sha256, created_at, created_by)
                VALUES (\(workflow.tenant), \(workflow.name), \(workflow.version), \(workflow.source),
                    \(workflow.sha256), \(Timestamp.milliseconds(workflow.createdAt)), \(workflow.createdBy))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger
            ).collect()
            guard inserted.count == 1 else {
                throw KeyTaken(.workflowVersion, key: "\(workflow.name) v\(workflow.version)")
            }
        }
        for request in changes.runRequests {
            let inserted = try await connection.query(
                """
                INSERT INTO run_requests (tenant, idempotency_key, sha256, run_id, created_at)
                VALUES (\(request.tenant), \(request.key), \(request.sha256), \(request.runID.rawValue),
                    \(Timestamp.milliseconds(request.createdAt)))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger
            ).collect()
            guard inserted.count == 1 else { throw KeyTaken(.runRequest, key: request.key) }
        }
        for step in changes.conversationSteps { try await insert(step, on: connection, logger: logger) }
        for firing in changes.scheduleFirings { try await apply(firing, on: connection, logger: logger) }
        for checkpoint in changes.taskCheckpoints {
            try await connection.query(
                """
                INSERT INTO task_checkpoints (tenant, run_id, task_key, value, attempt, updated_at)
                VALUES (\(checkpoint.tenant), \(checkpoint.run.rawValue), \(checkpoint.taskKey),
                    \(checkpoint.value.jsonText), \(checkpoint.attempt), \(Timestamp.milliseconds(checkpoint.updatedAt)))
                ON CONFLICT (tenant, run_id, task_key) DO UPDATE SET value = excluded.value,
                    attempt = excluded.attempt, updated_at = excluded.updated_at
                """, logger: logger)
        }
    }

    public func taskCheckpoint(tenant: String, run: RunID, taskKey: String) async throws -> TaskCheckpoint? {
        try await rows(
            """
            SELECT value, attempt, updated_at FROM task_checkpoints
            WHERE tenant = \(tenant) AND run_id = \(run.rawValue) AND task_key = \(taskKey)
            """
        ) { row in
            let c = Columns(row, table: "task_checkpoints")
            return TaskCheckpoint(
                tenant: tenant, run: run, taskKey: taskKey,
                value: try JSONValue(jsonText: try c("value", as: String.self)),
                attempt: try c("attempt"), updatedAt: Timestamp.date(milliseconds: try c("updated_at")))
        }.first
    }

    /// Throws ``LeaseLost`` unless the fence's runs are still held as it says; locks their rows
    /// until the commit, so no claim can slip in between the check and the write.
    private static func check(_ fence: LeaseFence, on connection: PostgresConnection, logger: Logger) async throws {
        var stored: [(id: RunID, owner: String?, generation: Int64)] = []
        for try await (id, owner, generation) in try await connection.query(
            """
            SELECT id, owner, lease_generation FROM runs WHERE id = ANY(\(fence.generations.keys.map(\.rawValue)))
            ORDER BY id FOR UPDATE
            """, logger: logger
        ).decode((String, String?, Int64).self) {
            stored.append((RunID(id), owner, generation))
        }
        let lost = fence.lost(stored)
        guard lost.isEmpty else { throw LeaseLost(runs: lost) }
    }

    /// Upserts the state rows of `changes` (not its events).
    static func write(_ changes: ChangeSet, on connection: PostgresConnection, logger: Logger) async throws {
        try await BulkInsert.run(
            changes.runs.keepingLast(by: \.id),
            """
            INSERT INTO runs (id, tenant, workflow_name, workflow_version, workflow_source, workflow_file, inputs,
                status, error, created_at, updated_at, ended_at, cancel_requested, owner, lease_expires_at, created_by,
                trace_parent, parent_run_id, parent_task, parent_detached, depth, retried_by)
            """, width: 22,
            suffix: """
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error,
                    updated_at = excluded.updated_at, ended_at = excluded.ended_at
                """, on: connection, logger: logger
        ) { run, bindings in
            bindings.append(run.id.rawValue)
            bindings.append(run.tenant)
            bindings.append(run.workflowName)
            bindings.append(run.workflowVersion)
            bindings.append(run.workflowSource)
            bindings.append(run.workflowFile)
            bindings.append(JSONValue.object(run.inputs).jsonText)
            bindings.append(run.status.rawValue)
            bindings.append(run.error)
            bindings.append(Timestamp.milliseconds(run.createdAt))
            bindings.append(Timestamp.milliseconds(run.updatedAt))
            bindings.append(run.endedAt.map(Timestamp.milliseconds))
            bindings.append(run.cancelRequested)
            bindings.append(run.owner)
            bindings.append(run.leaseExpiresAt.map(Timestamp.milliseconds))
            bindings.append(run.createdBy)
            bindings.append(run.traceParent)
            bindings.append(run.parent?.run.rawValue)
            bindings.append(run.parent?.task)
            bindings.append(run.parent?.detached ?? false)
            bindings.append(run.depth)
            bindings.append(run.retriedBy)
        }
        try await BulkInsert.run(
            changes.tasks.keepingLast { [$0.runID.rawValue, $0.key] },
            """
            INSERT INTO tasks (tenant, run_id, key, task_id, idx, status, attempts, agent_id, output, error, reason,
                next_attempt_at, item, instance_count, attempts_before_retry, updated_at)
            """, width: 16,
            suffix: """
                 ON CONFLICT (run_id, key) DO UPDATE SET task_id = excluded.task_id, idx = excluded.idx,
                    status = excluded.status, attempts = excluded.attempts, agent_id = excluded.agent_id,
                    output = excluded.output, error = excluded.error, reason = excluded.reason,
                    next_attempt_at = excluded.next_attempt_at, item = excluded.item,
                    instance_count = excluded.instance_count, attempts_before_retry = excluded.attempts_before_retry,
                    updated_at = excluded.updated_at
                """, on: connection, logger: logger
        ) { task, bindings in
            bindings.append(task.tenant)
            bindings.append(task.runID.rawValue)
            bindings.append(task.key)
            bindings.append(task.taskID)
            bindings.append(task.index)
            bindings.append(task.status.rawValue)
            bindings.append(task.attempts)
            bindings.append(task.agentID?.rawValue)
            bindings.append(task.output?.jsonText)
            bindings.append(task.error)
            bindings.append(task.reason)
            bindings.append(task.nextAttemptAt.map(Timestamp.milliseconds))
            bindings.append(task.item?.jsonText)
            bindings.append(task.instanceCount)
            bindings.append(task.attemptsBeforeRetry)
            bindings.append(Timestamp.milliseconds(task.updatedAt))
        }
        try await BulkInsert.run(
            changes.attempts.keepingLast { [$0.runID.rawValue, $0.key, String($0.number)] },
            """
            INSERT INTO attempts (tenant, run_id, key, number, idempotency_key, agent_id, status, started_at,
                ended_at, error)
            """, width: 10,
            suffix: """
                 ON CONFLICT (run_id, key, number) DO UPDATE SET idempotency_key = excluded.idempotency_key,
                    agent_id = excluded.agent_id, status = excluded.status, started_at = excluded.started_at,
                    ended_at = excluded.ended_at, error = excluded.error
                """, on: connection, logger: logger
        ) { attempt, bindings in
            bindings.append(attempt.tenant)
            bindings.append(attempt.runID.rawValue)
            bindings.append(attempt.key)
            bindings.append(attempt.number)
            bindings.append(attempt.idempotencyKey)
            bindings.append(attempt.agentID?.rawValue)
            bindings.append(attempt.status.rawValue)
            bindings.append(Timestamp.milliseconds(attempt.startedAt))
            bindings.append(attempt.endedAt.map(Timestamp.milliseconds))
            bindings.append(attempt.error)
        }
        try await BulkInsert.run(
            changes.agents.keepingLast(by: \.id),
            """
            INSERT INTO agents (id, tenant, name, kind, capabilities, configuration, max_concurrency, status,
                created_at, updated_at)
            """, width: 10,
            suffix: """
                 ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, name = excluded.name, kind = excluded.kind,
                    capabilities = excluded.capabilities, configuration = excluded.configuration,
                    max_concurrency = excluded.max_concurrency, status = excluded.status,
                    created_at = excluded.created_at, updated_at = excluded.updated_at
                """, on: connection, logger: logger
        ) { agent, bindings in
            bindings.append(agent.id.rawValue)
            bindings.append(agent.tenant)
            bindings.append(agent.name)
            bindings.append(agent.kind)
            bindings.append(JSONValue.array(agent.capabilities.map(JSONValue.string)).jsonText)
            bindings.append(JSONValue.object(agent.configuration).jsonText)
            bindings.append(agent.maxConcurrency)
            bindings.append(agent.status.rawValue)
            bindings.append(Timestamp.milliseconds(agent.createdAt))
            bindings.append(Timestamp.milliseconds(agent.updatedAt))
        }
    }

    public func requestCancel(of run: RunID, tenant: String, event: EventDraft) async throws -> RunRecord? {
        try await transaction { connection in
            var updated: [RunRecord] = []
            for try await row in try await connection.query(
                """
                UPDATE runs SET cancel_requested = true
                WHERE id = \(run.rawValue) AND tenant = \(tenant) AND NOT cancel_requested
                RETURNING *
                """, logger: logger)
            {
                updated.append(try Self.run(row))
            }
            guard let record = updated.first else {
                // Asked before (the request stands, with the event it recorded then), or no such run.
                return try await self.rows(
                    on: connection, "SELECT * FROM runs WHERE id = \(run.rawValue) AND tenant = \(tenant)", Self.run
                ).first
            }
            try await PostgresLedger.append([event], on: connection, logger: logger)
            return record
        }
    }

    public func reopen(
        _ stored: RunRecord, at: Date, by retrier: String, holder: (owner: String, expiresAt: Date)?,
        changes: ChangeSet
    ) async throws -> RunRecord? {
        try await transaction { connection in
            let when = Timestamp.milliseconds(at)
            let expires = holder.map { Timestamp.milliseconds($0.expiresAt) }
            var reopened: [RunRecord] = []
            for try await row in try await connection.query(
                """
                UPDATE runs SET status = 'running', error = NULL, ended_at = NULL, cancel_requested = false,
                    owner = \(holder?.owner), lease_expires_at = \(expires), lease_generation = lease_generation + 1,
                    retry_count = retry_count + 1, retried_at = \(when), retried_by = \(retrier), updated_at = \(when)
                WHERE id = \(stored.id.rawValue) AND tenant = \(stored.tenant) AND status = \(stored.status.rawValue)
                    AND lease_generation = \(stored.leaseGeneration)
                    AND updated_at = \(Timestamp.milliseconds(stored.updatedAt))
                RETURNING *
                """, logger: logger)
            {
                reopened.append(try Self.run(row))
            }
            guard let record = reopened.first else { return nil }
            try await Self.insertKeys(of: changes, on: connection, logger: logger)
            try await Self.write(changes, on: connection, logger: logger)
            try await PostgresLedger.append(changes.events, on: connection, logger: logger)
            // An unheld run is work for any worker; a held one, its holder's.
            if holder == nil { try await Self.notifyWork(on: connection, logger: logger) }
            return record
        }
    }

    // MARK: Leases

    public func claimUnfinishedRuns(
        tenant: String, owner: String, now: Date, expiresAt: Date, limit: Int,
        isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> [RunID] {
        // Free and expired leases first; after them a few held ones, whose holder may turn out to
        // be a dead process on this machine. Rows another node is claiming now are skipped.
        try await claimRuns(
            """
            SELECT id, owner, lease_expires_at FROM runs
            WHERE tenant = \(tenant) AND status IN ('pending', 'running')
            ORDER BY (owner IS NULL OR lease_expires_at <= \(Timestamp.milliseconds(now))) DESC, id
            LIMIT \(min(limit, Int.max - Self.heldRunsExamined) + Self.heldRunsExamined)
            FOR UPDATE SKIP LOCKED
            """, owner: owner, now: now, expiresAt: expiresAt, limit: limit, isOwnerAlive: isOwnerAlive)
    }

    /// How many runs with a current lease a claim looks at beyond its limit.
    static let heldRunsExamined = 64

    public func claim(
        _ run: RunID, owner: String, now: Date, expiresAt: Date, isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> Bool {
        try await !claimRuns(
            """
            SELECT id, owner, lease_expires_at FROM runs
            WHERE id = \(run.rawValue) AND status IN ('pending', 'running')
            FOR UPDATE SKIP LOCKED
            """, owner: owner, now: now, expiresAt: expiresAt, limit: 1, isOwnerAlive: isOwnerAlive
        ).isEmpty
    }

    /// Takes the lease of the runs `candidates` selects (and locks) unless another live process holds it.
    private func claimRuns(
        _ candidates: PostgresQuery, owner: String, now: Date, expiresAt: Date, limit: Int,
        isOwnerAlive: (String) -> Bool
    ) async throws -> [RunID] {
        try await transaction { connection in
            var claimed: [String] = []
            for try await (id, holder, expiry) in try await connection.query(candidates, logger: logger)
                .decode((String, String?, Int64?).self)
            {
                guard LeaseRule.isClaimable(holder: holder, expiresAt: expiry, now: now, isOwnerAlive: isOwnerAlive)
                else { continue }
                if claimed.count < limit { claimed.append(id) }
            }
            guard !claimed.isEmpty else { return [] }
            try await connection.query(
                """
                UPDATE runs SET owner = \(owner), lease_expires_at = \(Timestamp.milliseconds(expiresAt)),
                    lease_generation = lease_generation + 1
                WHERE id = ANY(\(claimed))
                """, logger: logger)
            return claimed.sorted().map(RunID.init)
        }
    }

    public func renewLeases(owner: String, runs: [RunID], expiresAt: Date, renewingBefore: Date) async throws
        -> Set<RunID>
    {
        guard !runs.isEmpty else { return [] }
        let ids = runs.map(\.rawValue)
        // A statement that updates no row writes no WAL record to flush.
        let cancelled = try await rows(
            """
            WITH renewed AS (
                UPDATE runs SET lease_expires_at = \(Timestamp.milliseconds(expiresAt))
                WHERE id = ANY(\(ids)) AND owner = \(owner)
                    AND (lease_expires_at IS NULL OR lease_expires_at < \(Timestamp.milliseconds(renewingBefore)))
            )
            SELECT id FROM runs WHERE id = ANY(\(ids)) AND cancel_requested
            """
        ) { row in try row.decode(String.self) }
        return Set(cancelled.map { RunID($0) })
    }

    public func releaseLeases(_ held: LeaseFence) async throws {
        guard !held.generations.isEmpty else { return }
        let runs = held.generations.keys.sorted()
        let generations = runs.map { held.generations[$0] ?? 0 }
        try await transaction { connection in
            var unfinished = false
            for try await status in try await connection.query(
                """
                UPDATE runs SET owner = NULL, lease_expires_at = NULL
                FROM unnest(\(runs.map(\.rawValue))::text[], \(generations)::bigint[]) AS held (id, generation)
                WHERE runs.id = held.id AND runs.lease_generation = held.generation AND runs.owner = \(held.owner)
                RETURNING runs.status
                """, logger: logger
            ).decode(String.self) {
                unfinished = unfinished || !(RunStatus(rawValue: status)?.isTerminal ?? true)
            }
            // Runs released before they ended are work for any worker.
            if unfinished { try await Self.notifyWork(on: connection, logger: logger) }
        }
    }

    // MARK: Reads

    public func run(_ id: RunID, tenant: String) async throws -> RunRecord? {
        try await rows(Self.runQuery(id, tenant: tenant), Self.run).first
    }

    public func task(_ key: String, of run: RunID, tenant: String) async throws -> TaskRecord? {
        try await rows(
            "SELECT * FROM tasks WHERE run_id = \(run.rawValue) AND key = \(key) AND tenant = \(tenant)", Self.task
        ).first
    }

    private static func runQuery(_ id: RunID, tenant: String) -> PostgresQuery {
        "SELECT * FROM runs WHERE id = \(id.rawValue) AND tenant = \(tenant)"
    }

    public func snapshot(of run: RunID, tenant: String) async throws -> RunSnapshot? {
        // One view: without it, a commit between two of these reads would mix two states.
        try await consistentRead { connection in
            guard let record = try await rows(on: connection, Self.runQuery(run, tenant: tenant), Self.run).first
            else { return nil }
            let tasks = try await rows(
                on: connection, "SELECT * FROM tasks WHERE run_id = \(run.rawValue) ORDER BY key", Self.task)
            let attempts = try await rows(
                on: connection, "SELECT * FROM attempts WHERE run_id = \(run.rawValue) ORDER BY key, number",
                Self.attempt)
            return RunSnapshot(run: record, tasks: tasks, attempts: attempts)
        }
    }

    public func unfinishedDetachedRuns(tenant: String, limit: Int) async throws -> Int {
        try await rows(
            """
            SELECT count(*) FROM (SELECT 1 FROM runs
                WHERE tenant = \(tenant) AND parent_detached AND status IN ('pending', 'running') LIMIT \(limit)) AS d
            """
        ) { try $0.decode(Int64.self) }.first.map(Int.init) ?? 0
    }

    public func runs(tenant: String, matching filter: RunFilter, limit: Int) async throws -> [RunRecord] {
        // One statement per filter shape, so that PostgreSQL walks the index that fits (tenant,
        // status or workflow, id) newest first; a first page starts below every run id ("zzzz").
        let before = filter.before?.rawValue ?? "zzzz"
        let unfinished = filter.unfinished
        let detached = filter.detached
        if let parent = filter.parent {
            // A parent's children are few beside a tenant's runs: its index alone narrows them.
            return try await rows(
                """
                SELECT * FROM runs WHERE tenant = \(tenant) AND parent_run_id = \(parent.rawValue) AND id < \(before)
                    AND (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue))
                    AND (\(filter.workflow)::text IS NULL OR workflow_name = \(filter.workflow))
                    AND (NOT \(unfinished) OR status IN ('pending', 'running'))
                    AND (\(detached)::boolean IS NULL OR parent_detached = \(detached))
                ORDER BY id DESC LIMIT \(limit)
                """, Self.run)
        }
        let query: PostgresQuery =
            switch (filter.status?.rawValue, filter.workflow) {
            case (nil, nil):
                """
                SELECT * FROM runs WHERE tenant = \(tenant) AND id < \(before)
                    AND (NOT \(unfinished) OR status IN ('pending', 'running'))
                    AND (\(detached)::boolean IS NULL OR parent_detached = \(detached))
                ORDER BY id DESC LIMIT \(limit)
                """
            case (let status?, nil):
                """
                SELECT * FROM runs WHERE tenant = \(tenant) AND status = \(status) AND id < \(before)
                    AND (NOT \(unfinished) OR status IN ('pending', 'running'))
                    AND (\(detached)::boolean IS NULL OR parent_detached = \(detached))
                ORDER BY id DESC LIMIT \(limit)
                """
            case (nil, let workflow?):
                """
                SELECT * FROM runs WHERE tenant = \(tenant) AND workflow_name = \(workflow) AND id < \(before)
                    AND (NOT \(unfinished) OR status IN ('pending', 'running'))
                    AND (\(detached)::boolean IS NULL OR parent_detached = \(detached))
                ORDER BY id DESC LIMIT \(limit)
                """
            case (let status?, let workflow?):
                """
                SELECT * FROM runs WHERE tenant = \(tenant) AND status = \(status) AND workflow_name = \(workflow)
                    AND id < \(before) AND (NOT \(unfinished) OR status IN ('pending', 'running'))
                    AND (\(detached)::boolean IS NULL OR parent_detached = \(detached))
                ORDER BY id DESC LIMIT \(limit)
                """
            }
        return try await rows(query, Self.run)
    }

    public func taskCounts(of runs: [RunID], tenant: String) async throws -> [RunID: [TaskStatus: Int]] {
        guard !runs.isEmpty else { return [:] }
        let query: PostgresQuery = """
            SELECT run_id, status, count(*) FROM tasks WHERE tenant = \(tenant) AND run_id = ANY(\(runs.map(\.rawValue)))
            GROUP BY run_id, status
            """
        var counts: [RunID: [TaskStatus: Int]] = [:]
        for (run, status, count) in try await rows(query, { try $0.decode((String, String, Int).self) }) {
            guard let status = TaskStatus(rawValue: status) else { continue }
            counts[RunID(run), default: [:]][status] = count
        }
        return counts
    }

    public func statistics(now: Date) async throws -> StoreStatistics {
        typealias Queries = StoreStatistics.Queries
        var statistics = StoreStatistics()
        let counts = { (row: PostgresRow) in try row.decode((String, Int).self) }
        for (status, count) in try await rows(PostgresQuery(unsafeSQL: Queries.runs), counts) {
            statistics.runs[status] = count
        }
        for (status, count) in try await rows(PostgresQuery(unsafeSQL: Queries.attempts), counts) {
            statistics.attempts[status] = count
        }
        let count = { (row: PostgresRow) in try row.decode(Int.self) }
        statistics.queuedTasks = try await rows(PostgresQuery(unsafeSQL: Queries.queuedTasks), count).first ?? 0
        statistics.remoteTasksQueued =
            try await rows(PostgresQuery(unsafeSQL: Queries.remoteTasksQueued), count).first ?? 0
        statistics.leasesHeld =
            try await rows(
                """
                SELECT COUNT(*) FROM runs WHERE status IN ('pending', 'running') AND owner IS NOT NULL
                    AND lease_expires_at > \(Timestamp.milliseconds(now))
                """, count
            ).first ?? 0
        statistics.settlements = try await rows(PostgresQuery(unsafeSQL: Queries.settlements)) { row in
            let (currency, status, count, total) = try row.decode((String, String, Int, Double).self)
            return StoreStatistics.SettlementTotal(currency: currency, status: status, count: count, minorUnits: total)
        }
        return statistics
    }

    public func tenantsWithUnfinishedRuns() async throws -> [String] {
        try await rows("SELECT DISTINCT tenant FROM runs WHERE status IN ('pending', 'running') ORDER BY tenant") {
            try $0.decode(String.self)
        }
    }

    public func tenants() async throws -> [String] {
        try await rows("SELECT tenant FROM runs UNION SELECT tenant FROM rule_sets ORDER BY tenant") {
            try $0.decode(String.self)
        }
    }

    public func workflows(tenant: String) async throws -> [WorkflowRecord] {
        try await rows(
            """
            SELECT DISTINCT ON (name) * FROM workflows WHERE tenant = \(tenant) ORDER BY name, version DESC
            """, Self.workflow)
    }

    public func workflowVersions(named name: String, tenant: String) async throws -> [WorkflowRecord] {
        try await rows(
            "SELECT * FROM workflows WHERE tenant = \(tenant) AND name = \(name) ORDER BY version", Self.workflow)
    }

    public func runRequest(key: String, tenant: String) async throws -> RunRequestRecord? {
        try await rows(
            """
            SELECT tenant, idempotency_key, sha256, run_id, created_at FROM run_requests
            WHERE tenant = \(tenant) AND idempotency_key = \(key)
            """
        ) { row in
            let (tenant, key, sha256, run, created) = try row.decode((String, String, String, String, Int64).self)
            return RunRequestRecord(
                tenant: tenant, key: key, sha256: sha256, runID: RunID(run),
                createdAt: Timestamp.date(milliseconds: created))
        }.first
    }

    public func agents(tenant: String) async throws -> [AgentRecord] {
        try await rows("SELECT * FROM agents WHERE tenant = \(tenant) ORDER BY created_at, id", Self.agent)
    }

    public func attemptsRunningElsewhere(tenant: String, owner: String, now: Date) async throws -> [AgentID: Int] {
        let counts = try await rows(
            """
            SELECT attempts.agent_id, COUNT(*) FROM attempts JOIN runs ON runs.id = attempts.run_id
            WHERE attempts.tenant = \(tenant) AND attempts.status = 'running' AND attempts.agent_id IS NOT NULL
                AND runs.owner IS NOT NULL AND runs.owner <> \(owner)
                AND runs.lease_expires_at > \(Timestamp.milliseconds(now))
            GROUP BY attempts.agent_id
            """
        ) { row in try row.decode((String, Int).self) }
        return Dictionary(uniqueKeysWithValues: counts.map { (AgentID($0.0), $0.1) })
    }

    public func metrics(of agents: [AgentID]) async throws -> [AgentID: AgentMetrics] {
        let rows = try await rows(
            """
            SELECT agent_id, status, started_at, ended_at FROM attempts
            WHERE agent_id = ANY(\(agents.map(\.rawValue)))
            """
        ) { row in
            let (agent, status, started, ended) = try row.decode((String, String, Int64, Int64?).self)
            return (
                agent: AgentID(agent),
                attempt: (status: AttemptStatus(rawValue: status) ?? .failed, started: started, ended: ended)
            )
        }
        return AgentMetrics.byAgent(rows, agents: agents)
    }

    public func metrics(of agent: AgentID) async throws -> AgentMetrics {
        let attempts = try await rows(
            "SELECT status, started_at, ended_at FROM attempts WHERE agent_id = \(agent.rawValue)"
        ) { row in
            let (status, started, ended) = try row.decode((String, Int64, Int64?).self)
            return (status: AttemptStatus(rawValue: status) ?? .failed, started: started, ended: ended)
        }
        return AgentMetrics(attempts: attempts)
    }

    public func eventHeaders(from seq: Int64, limit: Int) async throws -> [EventHeader] {
        try await rows(
            "SELECT seq, tenant, type, subject FROM events WHERE seq >= \(seq) ORDER BY seq LIMIT \(limit)"
        ) { row in
            let (seq, tenant, type, subject) = try row.decode((Int64, String, String, String).self)
            return EventHeader(seq: seq, tenant: tenant, type: type, subject: subject)
        }
    }

    public func events(from seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events WHERE seq >= \(seq) ORDER BY seq LIMIT \(limit)
            """
        ) { try Self.event($0).record }
    }

    public func runEvents(of run: RunID, tenant: String, from seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE tenant = \(tenant) AND split_part(subject, '/', 1) = \(run.rawValue) AND seq >= \(seq)
            ORDER BY seq LIMIT \(limit)
            """
        ) { try Self.event($0).record }
    }

    public func taskEvents(of run: RunID, key: String, tenant: String, from seq: Int64, limit: Int) async throws
        -> [EventRecord]
    {
        try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE tenant = \(tenant) AND split_part(subject, '/', 1) = \(run.rawValue)
                AND subject = \(run.rawValue + "/" + key) AND seq >= \(seq)
            ORDER BY seq LIMIT \(limit)
            """
        ) { try Self.event($0).record }
    }

    public func events(in range: Range<Int64>, tenant: String) async throws -> [EventRecord] {
        try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE seq >= \(range.lowerBound) AND seq < \(range.upperBound) AND tenant = \(tenant) ORDER BY seq
            """
        ) { try Self.event($0).record }
    }
}
