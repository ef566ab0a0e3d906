import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import UAEFCore
import UAEFStore

/// The embedded store: one SQLite file in WAL mode, every commit fsynced (`synchronous = FULL`).
///
/// One writer at a time (GRDB's `DatabasePool`); readers never block it. Callers batch state
/// changes into one ``ChangeSet`` per transaction, which is the group commit that keeps
/// throughput high while every commit survives power loss.
public final class SQLiteStore: WorkflowStore {
    /// The database, reached only through async accessors (see ``AsyncDatabasePool``).
    let pool: AsyncDatabasePool
    /// The file the store lives in.
    public let path: String
    /// The migrations this open applied (empty when the file was up to date).
    public let appliedMigrations: [String]
    /// Told by the writer connection whenever a transaction that appended events commits.
    private let eventCommits = NotificationBroadcast()
    /// Checkpoints the write-ahead log beside the writer rather than inside its commits.
    let checkpointer: WALCheckpointer

    /// For a process about to exit: copies each open SQLite store's write-ahead log into its
    /// database file, waiting for no other process, and empties the log when nothing else uses it.
    /// Commits are durable without it (they are in the log, which the next opening reads); with
    /// it, the database file alone holds them, as someone copying it expects.
    public static func checkpointOpenStores() { WALCheckpointer.checkpointAll() }

    /// Opens (creating if needed) the store at `path` and applies pending migrations.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // ``WALCheckpointer`` checkpoints instead, outside the commits.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let migrator = SQLiteMigrations.migrator
        let (pool, appliedMigrations) = try Self.retryingConcurrentOpens {
            let pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB sets `synchronous = NORMAL` on the writer when it turns WAL on, after
            // `prepareDatabase`: a commit would then reach the disk only at the next checkpoint.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            let before = try pool.read { db in try migrator.appliedIdentifiers(db) }
            do {
                try migrator.migrate(pool)
            } catch {
                // Fine when another process applied them meanwhile.
                guard try pool.read(migrator.hasCompletedMigrations) else { throw error }
            }
            return (pool, migrator.migrations.filter { !before.contains($0) })
        }
        try pool.write { db in try Self.backfillLedger(in: db) }
        let checkpointer = try WALCheckpointer(path: path)
        self.checkpointer = checkpointer
        let eventCommits = eventCommits
        try pool.writeWithoutTransaction { db in
            let observer = WriterCommits(
                checkpointer: checkpointer, eventCommits: eventCommits, end: try WriterCommits.end(db))
            db.add(transactionObserver: observer, extent: .databaseLifetime)
            // SQLite tells the log's length after each commit through this hook (the automatic
            // checkpoint, its other user, is off). The observer lives as long as the connection.
            // `PRAGMA wal_autocheckpoint` on this connection would replace the hook: it is set only
            // in `prepareDatabase`, before.
            sqlite3_wal_hook(
                db.sqliteConnection,
                { observer, _, _, pages in
                    guard let observer else { return SQLITE_OK }
                    Unmanaged<WriterCommits>.fromOpaque(observer).takeUnretainedValue().checkpointer.committed(
                        logPages: Int(pages))
                    return SQLITE_OK
                }, Unmanaged.passUnretained(observer).toOpaque())
        }
        // What opening wrote (migrations, the ledger's backfill) is copied within the quiet delay.
        checkpointer.committed(logPages: 0)
        self.pool = AsyncDatabasePool(pool: pool)
        self.appliedMigrations = appliedMigrations
    }

    /// Runs `open` again for up to five seconds while it fails on a busy file or a schema error
    /// (a loaded machine can keep another connection's checkpoint going for more than a second).
    /// Processes opening a new file at the
    /// same moment (a worker and a submit, say) get in each other's way: switching the file to WAL
    /// answers SQLITE_BUSY at once, and the loser of a migration race fails on tables the winner
    /// just made; a second try skips what is done by then.
    private static func retryingConcurrentOpens<T>(_ open: () throws -> T) throws -> T {
        var tries = 0
        while true {
            do {
                return try open()
            } catch let error as DatabaseError
                where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_ERROR
            {
                tries += 1
                guard tries < 250 else { throw error }
                usleep(20_000)
            }
        }
    }

    // MARK: Writes

    /// Commits that wait for the writer, and whether a task is writing them.
    private let waitingCommits = Mutex<(queue: [PendingCommit], writing: Bool)>(([], false))

    /// A commit waiting for the writer: a change set, or leases given up (`releasing`).
    struct PendingCommit {
        var changes = ChangeSet()
        var releasing: LeaseFence?
        var done: CheckedContinuation<Void, any Error>

        /// Writes its rows (not its events).
        func applyRows(in db: Database) throws {
            try SQLiteStore.applyRows(changes, in: db)
            guard let releasing else { return }
            for (run, generation) in releasing.generations {
                try db.cachedStatement(
                    sql: """
                        UPDATE runs SET owner = NULL, lease_expires_at = NULL
                        WHERE id = ? AND owner = ? AND lease_generation = ?
                        """
                ).execute(arguments: [run.rawValue, releasing.owner, generation])
            }
        }
    }

    /// Commits from concurrent callers (API requests, runners of other runs) that arrive while a
    /// transaction is being written are written together in the next one, each in its own
    /// savepoint: one fsync for all of them, and one caller's failure (a taken key, a lost lease)
    /// rolls back only its own changes.
    public func commit(_ changes: ChangeSet) async throws {
        guard !changes.isEmpty else { return }
        try await waitForWriter { PendingCommit(changes: changes, done: $0) }
    }

    /// Queues what `make` builds for the writer and waits until it is written.
    private func waitForWriter(_ make: (CheckedContinuation<Void, any Error>) -> PendingCommit) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let startWriting = waitingCommits.withLock { state in
                state.queue.append(make(done))
                defer { state.writing = true }
                return !state.writing
            }
            if startWriting { Task { await self.writeWaitingCommits() } }
        }
    }

    /// Writes waiting commits, a transaction per batch, until none wait.
    private func writeWaitingCommits() async {
        while true {
            let batch = waitingCommits.withLock { state in
                defer { state.queue = [] }
                if state.queue.isEmpty { state.writing = false }
                return state.queue
            }
            guard !batch.isEmpty else { return }
            let results: [Result<Void, any Error>]
            do {
                results = try await pool.write { db in
                    // Alone, a failure rolls the whole transaction back (thrown, caught below).
                    if batch.count == 1 {
                        try batch[0].applyRows(in: db)
                        try Self.appendEvents(batch[0].changes.events, in: db)
                        return [.success(())]
                    }
                    // Each change set's rows in a savepoint; then the events of those that held, in
                    // order, in one append (one frontier read, one tree head).
                    let results = batch.map { pending in
                        Result {
                            try db.inSavepoint {
                                try pending.applyRows(in: db)
                                return .commit
                            }
                        }
                    }
                    var events: [EventDraft] = []
                    for (pending, result) in zip(batch, results) where (try? result.get()) != nil {
                        events += pending.changes.events
                    }
                    try Self.appendEvents(events, in: db)
                    return results
                }
            } catch {
                // The transaction itself failed (I/O, a full disk): nothing of the batch is written.
                results = batch.map { _ in .failure(error) }
            }
            for (pending, result) in zip(batch, results) { pending.done.resume(with: result) }
        }
    }

    /// Writes the state rows of `changes` (after checking its fence), not its events.
    static func applyRows(_ changes: ChangeSet, in db: Database) throws {
        if let fence = changes.fence { try check(fence, in: db) }
        for run in changes.runs {
            try db.cachedStatement(
                sql: """
                    INSERT INTO runs (id, tenant, workflow_name, workflow_version, workflow_source, workflow_file,
                        inputs, status, error, created_at, updated_at, ended_at, cancel_requested, owner, lease_expires_at,
                        created_by, trace_parent, parent_run_id, parent_task, parent_detached, depth, retried_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error,
                        updated_at = excluded.updated_at, ended_at = excluded.ended_at
                    """
            ).execute(arguments: [
                run.id.rawValue, run.tenant, run.workflowName, run.workflowVersion, run.workflowSource,
                run.workflowFile, JSONValue.object(run.inputs).jsonText, run.status.rawValue, run.error,
                Timestamp.milliseconds(run.createdAt), Timestamp.milliseconds(run.updatedAt),
                run.endedAt.map(Timestamp.milliseconds), run.cancelRequested, run.owner,
                run.leaseExpiresAt.map(Timestamp.milliseconds), run.createdBy, run.traceParent,
                run.parent?.run.rawValue, run.parent?.task, run.parent?.detached ?? false, run.depth, run.retriedBy,
            ])
        }
        for task in changes.tasks {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO tasks (tenant, run_id, key, task_id, idx, status, attempts, agent_id, output,
                        error, reason, next_attempt_at, item, instance_count, attempts_before_retry, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).executeFast([
                .text(task.tenant), .text(task.runID.rawValue), .text(task.key), .text(task.taskID),
                BoundValue(task.index), .text(task.status.rawValue), .integer(Int64(task.attempts)),
                BoundValue(task.agentID?.rawValue), BoundValue(task.output?.jsonText), BoundValue(task.error),
                BoundValue(task.reason), BoundValue(task.nextAttemptAt.map(Timestamp.milliseconds)),
                BoundValue(task.item?.jsonText), BoundValue(task.instanceCount),
                .integer(Int64(task.attemptsBeforeRetry)), .integer(Timestamp.milliseconds(task.updatedAt)),
            ])
        }
        for attempt in changes.attempts {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO attempts (tenant, run_id, key, number, idempotency_key, agent_id, status,
                        started_at, ended_at, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).executeFast([
                .text(attempt.tenant), .text(attempt.runID.rawValue), .text(attempt.key),
                .integer(Int64(attempt.number)), .text(attempt.idempotencyKey), BoundValue(attempt.agentID?.rawValue),
                .text(attempt.status.rawValue), .integer(Timestamp.milliseconds(attempt.startedAt)),
                BoundValue(attempt.endedAt.map(Timestamp.milliseconds)), BoundValue(attempt.error),
            ])
        }
        for agent in changes.agents {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO agents (id, tenant, name, kind, capabilities, configuration, max_concurrency,
                        status, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                agent.id.rawValue, agent.tenant, agent.name, agent.kind,
                JSONValue.array(agent.capabilities.map(JSONValue.string)).jsonText,
                JSONValue.object(agent.configuration).jsonText, agent.maxConcurrency, agent.status.rawValue,
                Timestamp.milliseconds(agent.createdAt), Timestamp.milliseconds(agent.updatedAt),
            ])
        }
        for workflow in changes.workflows {
            try db.execute(
                sql: """
                    INSERT INTO workflows (tenant, name, version, source, sha256, created_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [
                    workflow.tenant, workflow.name, workflow.version, workflow.source, workflow.sha256,
                    Timestamp.milliseconds(workflow.createdAt), workflow.createdBy,
                ])
            guard db.changesCount == 1 else {
                throw KeyTaken(.workflowVersion, key: "\(workflow.name) v\(workflow.version)")
            }
        }
        for request in changes.runRequests {
            try db.cachedStatement(
                sql: """
                    INSERT INTO run_requests (tenant, idempotency_key, sha256, run_id, created_at)
                    VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """
            ).execute(
                arguments: [
                    request.tenant, request.key, request.sha256, request.runID.rawValue,
                    Timestamp.milliseconds(request.createdAt),
                ])
            guard db.changesCount == 1 else { throw KeyTaken(.runRequest, key: request.key) }
        }
        for step in changes.conversationSteps { try insert(step, in: db) }
        for firing in changes.scheduleFirings { try apply(firing, in: db) }
        for checkpoint in changes.taskCheckpoints {
            try db.execute(
                sql: """
                    INSERT INTO task_checkpoints (tenant, run_id, task_key, value, attempt, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant, run_id, task_key) DO UPDATE SET value = excluded.value,
                        attempt = excluded.attempt, updated_at = excluded.updated_at
                    """,
                arguments: [
                    checkpoint.tenant, checkpoint.run.rawValue, checkpoint.taskKey, checkpoint.value.jsonText,
                    checkpoint.attempt, Timestamp.milliseconds(checkpoint.updatedAt),
                ])
        }
    }

    public func taskCheckpoint(tenant: String, run: RunID, taskKey: String) async throws -> TaskCheckpoint? {
        try await pool.read { db -> TaskCheckpoint? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT value, attempt, updated_at FROM task_checkpoints WHERE tenant = ? AND run_id = ? AND task_key = ?",
                    arguments: [tenant, run.rawValue, taskKey])
            else { return nil }
            return TaskCheckpoint(
                tenant: tenant, run: run, taskKey: taskKey, value: try JSONValue(jsonText: row["value"] as String),
                attempt: row["attempt"], updatedAt: Timestamp.date(milliseconds: row["updated_at"]))
        }
    }

    /// Throws ``LeaseLost`` unless the fence's runs are still held as it says.
    private static func check(_ fence: LeaseFence, in db: Database) throws {
        var stored: [(id: RunID, owner: String?, generation: Int64)] = []
        for run in fence.generations.keys {
            if let row = try Row.fetchOne(
                db, sql: "SELECT owner, lease_generation FROM runs WHERE id = ?", arguments: [run.rawValue])
            {
                stored.append((run, row["owner"], row["lease_generation"]))
            }
        }
        let lost = fence.lost(stored)
        guard lost.isEmpty else { throw LeaseLost(runs: lost) }
    }

    public func requestCancel(of run: RunID, tenant: String, event: EventDraft) async throws -> RunRecord? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND tenant = ? AND cancel_requested = 0",
                arguments: [run.rawValue, tenant])
            // Asked before: the request stands, with the event it recorded then.
            if db.changesCount > 0 { try Self.appendEvents([event], in: db) }
            return try Row.fetchOne(
                db, sql: "SELECT * FROM runs WHERE id = ? AND tenant = ?", arguments: [run.rawValue, tenant]
            ).map(Self.run)
        }
    }

    public func reopen(
        _ stored: RunRecord, at: Date, by retrier: String, holder: (owner: String, expiresAt: Date)?,
        changes: ChangeSet
    ) async throws -> RunRecord? {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'running', error = NULL, ended_at = NULL, cancel_requested = 0,
                        owner = ?, lease_expires_at = ?, lease_generation = lease_generation + 1,
                        retry_count = retry_count + 1, retried_at = ?, retried_by = ?, updated_at = ?
                    WHERE id = ? AND tenant = ? AND status = ? AND lease_generation = ? AND updated_at = ?
                    """,
                arguments: [
                    holder?.owner, holder.map { Timestamp.milliseconds($0.expiresAt) }, Timestamp.milliseconds(at),
                    retrier, Timestamp.milliseconds(at), stored.id.rawValue, stored.tenant, stored.status.rawValue,
                    stored.leaseGeneration, Timestamp.milliseconds(stored.updatedAt),
                ])
            guard db.changesCount > 0 else { return nil }
            try Self.applyRows(changes, in: db)
            try Self.appendEvents(changes.events, in: db)
            return try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [stored.id.rawValue]).map(
                Self.run)
        }
    }

    public func claimUnfinishedRuns(
        tenant: String, owner: String, now: Date, expiresAt: Date, limit: Int,
        isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> [RunID] {
        try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, owner, lease_expires_at FROM runs
                    WHERE tenant = ? AND status IN ('pending', 'running') ORDER BY id
                    """,
                arguments: [tenant])
            var claimed: [RunID] = []
            for row in rows where claimed.count < limit {
                if try Self.claim(row, owner: owner, now: now, expiresAt: expiresAt, isOwnerAlive: isOwnerAlive, in: db)
                {
                    claimed.append(RunID(row["id"]))
                }
            }
            return claimed
        }
    }

    public func claim(
        _ run: RunID, owner: String, now: Date, expiresAt: Date, isOwnerAlive: @Sendable (String) -> Bool
    ) async throws -> Bool {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT id, owner, lease_expires_at FROM runs WHERE id = ? AND status IN ('pending', 'running')",
                    arguments: [run.rawValue])
            else { return false }
            return try Self.claim(row, owner: owner, now: now, expiresAt: expiresAt, isOwnerAlive: isOwnerAlive, in: db)
        }
    }

    /// Takes the lease of the run in `row` unless another live process holds it.
    private static func claim(
        _ row: Row, owner: String, now: Date, expiresAt: Date, isOwnerAlive: (String) -> Bool, in db: Database
    ) throws -> Bool {
        guard
            LeaseRule.isClaimable(
                holder: row["owner"], expiresAt: row["lease_expires_at"], now: now, isOwnerAlive: isOwnerAlive)
        else { return false }
        try db.execute(
            sql:
                "UPDATE runs SET owner = ?, lease_expires_at = ?, lease_generation = lease_generation + 1 WHERE id = ?",
            arguments: [owner, Timestamp.milliseconds(expiresAt), row["id"] as String])
        return true
    }

    public func renewLeases(owner: String, runs: [RunID], expiresAt: Date, renewingBefore: Date) async throws
        -> Set<RunID>
    {
        guard !runs.isEmpty else { return [] }
        // A transaction that changed nothing commits without writing the log or syncing.
        return try await pool.write { db in
            var cancelled: Set<RunID> = []
            for run in runs {
                try db.execute(
                    sql:
                        "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND owner = ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)",
                    arguments: [
                        Timestamp.milliseconds(expiresAt), run.rawValue, owner, Timestamp.milliseconds(renewingBefore),
                    ])
                let requested = try Bool.fetchOne(
                    db, sql: "SELECT cancel_requested FROM runs WHERE id = ?", arguments: [run.rawValue])
                if requested == true { cancelled.insert(run) }
            }
            return cancelled
        }
    }

    public func releaseLeases(_ held: LeaseFence) async throws {
        guard !held.generations.isEmpty else { return }
        // With the commits waiting for the writer: no transaction (and fsync) of its own.
        try await waitForWriter { PendingCommit(releasing: held, done: $0) }
    }

    // MARK: Reads

    public func run(_ id: RunID, tenant: String) async throws -> RunRecord? {
        try await pool.read { db in try Self.runRow(id, tenant: tenant, in: db).map(Self.run) }
    }

    public func task(_ key: String, of run: RunID, tenant: String) async throws -> TaskRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.taskColumns) FROM tasks WHERE run_id = ? AND key = ? AND tenant = ?",
                arguments: [run.rawValue, key, tenant]
            ).map(Self.task)
        }
    }

    /// The row of `id` in `tenant`, if there is one.
    private static func runRow(_ id: RunID, tenant: String, in db: Database) throws -> Row? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM runs WHERE id = ? AND tenant = ?"), arguments: [id.rawValue, tenant])
    }

    public func snapshot(of run: RunID, tenant: String) async throws -> RunSnapshot? {
        try await pool.read { db in
            guard let row = try Self.runRow(run, tenant: tenant, in: db) else { return nil }
            // Cached statements: this is the API's most frequent read.
            // Decoded as the cursor steps, without copying each row first.
            let tasks = try Array(
                Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT \(Self.taskColumns) FROM tasks WHERE run_id = ?"),
                    arguments: [run.rawValue]
                ).map(Self.task))
            let attempts = try Array(
                Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT \(Self.attemptColumns) FROM attempts WHERE run_id = ? ORDER BY key, number"),
                    arguments: [run.rawValue]
                ).map(Self.attempt))
            return RunSnapshot(run: try Self.run(row), tasks: tasks, attempts: attempts)
        }
    }

    public func runs(tenant: String, matching filter: RunFilter, limit: Int) async throws -> [RunRecord] {
        // Only the filters given are in the statement, so that SQLite walks the index that fits
        // (tenant, status or workflow, id) newest first and stops after `limit` rows.
        var conditions = ["tenant = ?"]
        var arguments: StatementArguments = [tenant]
        if let status = filter.status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        if let workflow = filter.workflow {
            conditions.append("workflow_name = ?")
            arguments += [workflow]
        }
        if let parent = filter.parent {
            conditions.append("parent_run_id = ?")
            arguments += [parent.rawValue]
        }
        if let before = filter.before {
            conditions.append("id < ?")
            arguments += [before.rawValue]
        }
        if filter.unfinished { conditions.append("status IN ('pending', 'running')") }
        if let detached = filter.detached {
            conditions.append("parent_detached = ?")
            arguments += [detached]
        }
        arguments += [limit]
        let sql = "SELECT * FROM runs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        return try await pool.read { [arguments] db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.run)
        }
    }

    public func unfinishedDetachedRuns(tenant: String, limit: Int) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM (SELECT 1 FROM runs
                        WHERE tenant = ? AND parent_detached = 1 AND status IN ('pending', 'running') LIMIT ?)
                    """, arguments: [tenant, limit]) ?? 0
        }
    }

    public func taskCounts(of runs: [RunID], tenant: String) async throws -> [RunID: [TaskStatus: Int]] {
        guard !runs.isEmpty else { return [:] }
        // One statement for any number of runs (their ids as one JSON array), compiled once.
        let ids = JSONValue.array(runs.map { .string($0.rawValue) }).jsonText
        return try await pool.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT run_id, status, count(*) FROM tasks
                    WHERE tenant = ? AND run_id IN (SELECT value FROM json_each(?))
                    GROUP BY run_id, status
                    """)
            var counts: [RunID: [TaskStatus: Int]] = [:]
            let rows = try Row.fetchCursor(statement, arguments: [tenant, ids])
            while let row = try rows.next() {
                guard let status = TaskStatus(rawValue: row[1]) else { continue }
                counts[RunID(row[0] as String), default: [:]][status] = row[2] as Int
            }
            return counts
        }
    }

    public func statistics(now: Date) async throws -> StoreStatistics {
        try await pool.read { db in
            var statistics = StoreStatistics()
            typealias Queries = StoreStatistics.Queries
            for row in try Row.fetchAll(db, sql: Queries.runs) { statistics.runs[row[0]] = row[1] }
            for row in try Row.fetchAll(db, sql: Queries.attempts) { statistics.attempts[row[0]] = row[1] }
            statistics.queuedTasks = try Int.fetchOne(db, sql: Queries.queuedTasks) ?? 0
            statistics.remoteTasksQueued = try Int.fetchOne(db, sql: Queries.remoteTasksQueued) ?? 0
            statistics.leasesHeld =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM runs WHERE status IN ('pending', 'running') AND owner IS NOT NULL
                            AND lease_expires_at > ?
                        """, arguments: [Timestamp.milliseconds(now)]) ?? 0
            statistics.settlements = try Row.fetchAll(db, sql: Queries.settlements).map { row in
                StoreStatistics.SettlementTotal(currency: row[0], status: row[1], count: row[2], minorUnits: row[3])
            }
            return statistics
        }
    }

    public func tenantsWithUnfinishedRuns() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT DISTINCT tenant FROM runs WHERE status IN ('pending', 'running') ORDER BY tenant")
        }
    }

    public func tenants() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT tenant FROM runs UNION SELECT tenant FROM rule_sets ORDER BY tenant")
        }
    }

    public func workflows(tenant: String) async throws -> [WorkflowRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM workflows AS w WHERE tenant = ?1
                        AND version = (SELECT MAX(version) FROM workflows WHERE tenant = ?1 AND name = w.name)
                    ORDER BY name
                    """, arguments: [tenant]
            )
            .map(Self.workflow)
        }
    }

    public func workflowVersions(named name: String, tenant: String) async throws -> [WorkflowRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM workflows WHERE tenant = ? AND name = ? ORDER BY version"),
                arguments: [tenant, name]
            )
            .map(Self.workflow)
        }
    }

    public func runRequest(key: String, tenant: String) async throws -> RunRequestRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM run_requests WHERE tenant = ? AND idempotency_key = ?"),
                arguments: [tenant, key]
            )
            .map { row in
                RunRequestRecord(
                    tenant: row["tenant"], key: row["idempotency_key"], sha256: row["sha256"],
                    runID: RunID(row["run_id"]), createdAt: Timestamp.date(milliseconds: row["created_at"]))
            }
        }
    }

    public func agents(tenant: String) async throws -> [AgentRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM agents WHERE tenant = ? ORDER BY created_at, id", arguments: [tenant]
            )
            .map(Self.agent)
        }
    }

    public func attemptsRunningElsewhere(tenant: String, owner: String, now: Date) async throws -> [AgentID: Int] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT attempts.agent_id AS agent, COUNT(*) AS running FROM attempts
                    JOIN runs ON runs.id = attempts.run_id
                    WHERE attempts.tenant = ? AND attempts.status = 'running' AND attempts.agent_id IS NOT NULL
                        AND runs.owner IS NOT NULL AND runs.owner != ? AND runs.lease_expires_at > ?
                    GROUP BY attempts.agent_id
                    """,
                arguments: [tenant, owner, Timestamp.milliseconds(now)])
            return Dictionary(uniqueKeysWithValues: rows.map { (AgentID($0["agent"]), $0["running"] as Int) })
        }
    }

    public func metrics(of agents: [AgentID]) async throws -> [AgentID: AgentMetrics] {
        let ids = JSONValue.array(agents.map { .string($0.rawValue) }).jsonText
        let attempts = try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT agent_id, status, started_at, ended_at FROM attempts
                    WHERE agent_id IN (SELECT value FROM json_each(?))
                    """,
                arguments: [ids]
            ).map { row in
                (
                    agent: AgentID(row["agent_id"] as String),
                    attempt: (
                        status: AttemptStatus(rawValue: row["status"]) ?? .failed, started: row["started_at"] as Int64,
                        ended: row["ended_at"] as Int64?
                    )
                )
            }
        }
        return AgentMetrics.byAgent(attempts, agents: agents)
    }

    public func metrics(of agent: AgentID) async throws -> AgentMetrics {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT status, started_at, ended_at FROM attempts WHERE agent_id = ?",
                arguments: [agent.rawValue])
            return AgentMetrics(
                attempts: rows.map { row in
                    (
                        status: AttemptStatus(rawValue: row["status"]) ?? .failed, started: row["started_at"],
                        ended: row["ended_at"]
                    )
                })
        }
    }

    public func eventHeaders(from seq: Int64, limit: Int) async throws -> [EventHeader] {
        try await pool.read { db in
            var headers: [EventHeader] = []
            try db.cachedStatement(
                sql: "SELECT seq, tenant, type, subject FROM events WHERE seq >= ? ORDER BY seq LIMIT ?"
            )
            .forEachRowFast([.integer(seq), .integer(Int64(limit))]) { row in
                headers.append(
                    EventHeader(
                        seq: FastColumn.int64(row, 0),
                        tenant: String(decoding: FastColumn.bytes(row, 1), as: UTF8.self),
                        type: String(decoding: FastColumn.bytes(row, 2), as: UTF8.self),
                        subject: String(decoding: FastColumn.bytes(row, 3), as: UTF8.self)))
                return true
            }
            return headers
        }
    }

    public func events(from seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(Self.eventColumns) FROM events WHERE seq >= ? ORDER BY seq LIMIT ?"),
                arguments: [seq, limit]
            )
            .map(Self.event)
        }
    }

    /// The run id an event's subject starts with: the subject up to its first `/`. The query
    /// repeats the index's expression exactly, which SQLite needs to use the index.
    static let subjectRun = "substr(subject, 1, instr(subject || '/', '/') - 1)"

    public func runEvents(of run: RunID, tenant: String, from seq: Int64, limit: Int) async throws -> [EventRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(Self.eventColumns) FROM events WHERE tenant = ? AND \(Self.subjectRun) = ? AND seq >= ?
                        ORDER BY seq LIMIT ?
                        """),
                arguments: [tenant, run.rawValue, seq, limit]
            )
            .map(Self.event)
        }
    }

    public func taskEvents(of run: RunID, key: String, tenant: String, from seq: Int64, limit: Int) async throws
        -> [EventRecord]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(Self.eventColumns) FROM events
                        WHERE tenant = ? AND \(Self.subjectRun) = ? AND subject = ? AND seq >= ?
                        ORDER BY seq LIMIT ?
                        """),
                arguments: [tenant, run.rawValue, run.rawValue + "/" + key, seq, limit]
            )
            .map(Self.event)
        }
    }

    public func events(in range: Range<Int64>, tenant: String) async throws -> [EventRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                // `+tenant`: the range of seqs (the primary key) is the way in, never the tenant's
                // index of events by run, which would read all of the tenant's events.
                db.cachedStatement(
                    sql:
                        "SELECT \(Self.eventColumns) FROM events WHERE seq >= ? AND seq < ? AND +tenant = ? ORDER BY seq"
                ),
                arguments: [range.lowerBound, range.upperBound, tenant]
            )
            .map(Self.event)
        }
    }
}

extension SQLiteStore {
    /// SQLite has no cross-process notifications: workers on one machine poll.
    public func workNotifications() -> AsyncStream<Void>? { nil }

    /// Commits of events by this process (every write goes through one writer connection).
    public func eventNotifications() -> AsyncStream<Void> {
        let stream = eventCommits.subscribe()
        eventCommits.notify()
        return stream
    }
}

/// Watches the writer connection's commits: holds the checkpointer the log's length goes to
/// after each (through SQLite's WAL hook), and tells
/// ``NotificationBroadcast`` subscribers of those that appended events (the log's end, one index
/// lookup, is compared after each commit: events are inserted by direct statement steps that
/// row-level observation does not see).
private final class WriterCommits: TransactionObserver, @unchecked Sendable {
    let checkpointer: WALCheckpointer
    let eventCommits: NotificationBroadcast
    /// The log's end after the last commit: touched only on the writer connection.
    private var end: Int64

    init(checkpointer: WALCheckpointer, eventCommits: NotificationBroadcast, end: Int64) {
        self.checkpointer = checkpointer
        self.eventCommits = eventCommits
        self.end = end
    }

    /// The greatest `seq` in the log, -1 when it is empty.
    static func end(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), -1) FROM events")) ?? -1
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }

    func databaseDidChange(with event: DatabaseEvent) {}

    func databaseDidCommit(_ db: Database) {
        guard let newEnd = try? Self.end(db), newEnd > end else { return }
        end = newEnd
        eventCommits.notify()
    }

    func databaseDidRollback(_ db: Database) {}
}
