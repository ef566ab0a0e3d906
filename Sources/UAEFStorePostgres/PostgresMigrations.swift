import Logging
import PostgresNIO

/// The PostgreSQL schema as numbered migrations; a released migration is never edited, only followed.
///
/// Every node may apply them at start: the whole check-and-apply runs in one transaction under a
/// transaction-scoped advisory lock, so concurrent starts queue behind each other and each
/// migration is applied exactly once.
enum PostgresMigrations {
    /// (name, statements) in order.
    static let all: [(name: String, statements: [String])] = [
        ("v1_schema", v1Schema),
        ("v2_lease_generations", ["ALTER TABLE runs ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0"]),
        (
            "v3_registry",
            [
                """
                CREATE TABLE workflows (
                    tenant TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    PRIMARY KEY (tenant, name, version)
                )
                """,
                """
                CREATE TABLE run_requests (
                    tenant TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant, idempotency_key)
                )
                """,
                "CREATE INDEX runs_by_workflow ON runs (tenant, workflow_name, id)",
            ]
        ),
        (
            "v4_remote_work",
            [
                """
                CREATE TABLE remote_tasks (
                    id TEXT PRIMARY KEY,
                    tenant TEXT NOT NULL,
                    agent_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    workflow TEXT NOT NULL,
                    key TEXT NOT NULL,
                    capability TEXT,
                    attempt INTEGER NOT NULL,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    input TEXT NOT NULL,
                    status TEXT NOT NULL,
                    generation BIGINT NOT NULL,
                    lease_expires_at BIGINT,
                    output TEXT,
                    error TEXT,
                    retryable BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX remote_tasks_claimable ON remote_tasks (tenant, agent_id, status, created_at)",
                """
                CREATE TABLE agent_keys (
                    id TEXT PRIMARY KEY,
                    tenant TEXT NOT NULL,
                    agent_id TEXT NOT NULL,
                    sha256 TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL
                )
                """,
            ]
        ),
        (
            "v5_secrets",
            [
                """
                CREATE TABLE secrets (
                    tenant TEXT NOT NULL,
                    name TEXT NOT NULL,
                    sealed TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT NOT NULL,
                    PRIMARY KEY (tenant, name)
                )
                """
            ]
        ),
        (
            // Attempts queued for workers that serve their capability share the remote agents' queue.
            "v6_worker_tasks",
            [
                "ALTER TABLE remote_tasks ADD COLUMN placement TEXT NOT NULL DEFAULT 'agent', ADD COLUMN kind TEXT",
                "CREATE INDEX remote_tasks_for_workers ON remote_tasks (tenant, placement, status, created_at)",
            ]
        ),
        (
            // The journal is append-only (TigerBeetle's two-phase transfers): posting or voiding a
            // pending transfer is a new transfer naming it, at most one per pending transfer.
            "v7_append_only_journal",
            [
                "ALTER TABLE transfers ADD COLUMN pending_id BIGINT REFERENCES transfers (id)",
                "CREATE UNIQUE INDEX transfers_resolving ON transfers (pending_id) WHERE pending_id IS NOT NULL",
                """
                CREATE FUNCTION uaef_refuse_transfer_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'transfers are append-only: % refused', TG_OP;
                END $$
                """,
                """
                CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
                FOR EACH ROW EXECUTE FUNCTION uaef_refuse_transfer_change()
                """,
            ]
        ),
        (
            "v8_connectors",
            [
                """
                CREATE TABLE connectors (
                    tenant TEXT NOT NULL,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    settings TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT NOT NULL,
                    PRIMARY KEY (tenant, name)
                )
                """
            ]
        ),
        (
            "v9_deliveries",
            [
                """
                CREATE TABLE subscription_cursors (
                    tenant TEXT NOT NULL,
                    connector TEXT NOT NULL,
                    next_seq BIGINT NOT NULL,
                    paused_reason TEXT,
                    PRIMARY KEY (tenant, connector)
                )
                """,
                """
                CREATE TABLE deliveries (
                    tenant TEXT NOT NULL,
                    connector TEXT NOT NULL,
                    id TEXT NOT NULL,
                    event_seq BIGINT NOT NULL,
                    event_type TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at BIGINT,
                    lease_until BIGINT,
                    last_status INTEGER,
                    last_error TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant, connector, id)
                )
                """,
                "CREATE INDEX deliveries_due ON deliveries (tenant, connector, status, event_seq)",
                "CREATE INDEX deliveries_by_event ON deliveries (tenant, event_seq)",
            ]
        ),
        (
            "v10_conversations",
            [
                """
                CREATE TABLE conversation_steps (
                    tenant TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    task_key TEXT NOT NULL,
                    idx INTEGER NOT NULL,
                    attempt INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    day TEXT NOT NULL,
                    input_tokens BIGINT NOT NULL,
                    output_tokens BIGINT NOT NULL,
                    cache_creation_tokens BIGINT NOT NULL,
                    cache_read_tokens BIGINT NOT NULL,
                    cost_nanos BIGINT NOT NULL,
                    currency TEXT,
                    latency_ms BIGINT NOT NULL,
                    event_id TEXT NOT NULL,
                    PRIMARY KEY (tenant, run_id, task_key, idx)
                )
                """,
                "CREATE INDEX conversation_steps_by_agent ON conversation_steps (tenant, agent, day)",
            ]
        ),
        (
            "v11_task_checkpoints",
            [
                """
                CREATE TABLE task_checkpoints (
                    tenant TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    task_key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant, run_id, task_key)
                )
                """
            ]
        ),
        ("v12_run_trace_parent", ["ALTER TABLE runs ADD COLUMN trace_parent TEXT"]),
        // A run's events by the run id their subject starts with (see PostgresStore.runEvents),
        // and a tenant's runs newest first without a filter.
        (
            "v13_console_indexes",
            [
                "CREATE INDEX events_by_run ON events (tenant, (split_part(subject, '/', 1)), seq)",
                "CREATE INDEX runs_by_tenant ON runs (tenant, id)",
            ]
        ),
        // Hourly counts kept from the event log (AnalyticsRollup), read by hour range.
        (
            "v14_analytics",
            [
                """
                CREATE TABLE analytics_buckets (
                    tenant TEXT NOT NULL, dimension TEXT NOT NULL, span TEXT NOT NULL, hour BIGINT NOT NULL,
                    key TEXT NOT NULL,
                    currency TEXT NOT NULL, total BIGINT NOT NULL, succeeded BIGINT NOT NULL, failed BIGINT NOT NULL,
                    cancelled BIGINT NOT NULL, durations TEXT NOT NULL, amount BIGINT NOT NULL, tokens BIGINT NOT NULL,
                    PRIMARY KEY (tenant, dimension, span, hour, key, currency)
                )
                """,
                "CREATE TABLE analytics_cursor (id INT PRIMARY KEY CHECK (id = 1), next_seq BIGINT NOT NULL)",
                "INSERT INTO analytics_cursor (id, next_seq) VALUES (1, 0)",
            ]
        ),
        // A tenant's schedules; the due ones are found by their next slot.
        (
            "v15_schedules",
            [
                """
                CREATE TABLE schedules (
                    tenant TEXT NOT NULL,
                    name TEXT NOT NULL,
                    definition TEXT NOT NULL,
                    paused BOOLEAN NOT NULL,
                    note TEXT,
                    next_at BIGINT,
                    last_slot BIGINT,
                    last_run TEXT,
                    last_error TEXT,
                    revision BIGINT NOT NULL,
                    claimed_by TEXT,
                    claimed_until BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT NOT NULL,
                    PRIMARY KEY (tenant, name)
                )
                """,
                "CREATE INDEX schedules_due ON schedules (next_at) WHERE NOT paused",
            ]
        ),
        // Runs retried after they failed or were cancelled, and each reopened task's earlier attempts.
        (
            "v16_run_retries",
            [
                "ALTER TABLE runs ADD COLUMN retry_count BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE runs ADD COLUMN retried_at BIGINT",
                "ALTER TABLE tasks ADD COLUMN attempts_before_retry BIGINT NOT NULL DEFAULT 0",
            ]
        ),
        // Runs started by another run's `workflow` task, listed by their parent.
        (
            "v17_child_runs",
            [
                "ALTER TABLE runs ADD COLUMN parent_run_id TEXT",
                "ALTER TABLE runs ADD COLUMN parent_task TEXT",
                "ALTER TABLE runs ADD COLUMN depth BIGINT NOT NULL DEFAULT 0",
                "CREATE INDEX runs_parent ON runs (tenant, parent_run_id, id) WHERE parent_run_id IS NOT NULL",
            ]
        ),
        // A run's unfinished queued attempts, withdrawn when it is cancelled or retried.
        (
            "v18_remote_tasks_by_run",
            ["CREATE INDEX remote_tasks_unfinished ON remote_tasks (run_id) WHERE status IN ('queued', 'claimed')"]
        ),
        // A schedule's next slot held until its last run ends (overlap buffer_one, buffer_all).
        ("v19_buffered_schedules", ["ALTER TABLE schedules ADD COLUMN buffered BOOLEAN NOT NULL DEFAULT false"]),
        // Child runs started without waiting, which their parent's end leaves alone.
        (
            "v20_detached_children",
            [
                "ALTER TABLE runs ADD COLUMN parent_detached BOOLEAN NOT NULL DEFAULT false",
                """
                CREATE INDEX runs_detached_unfinished ON runs (tenant)
                WHERE parent_detached AND status IN ('pending', 'running')
                """,
            ]
        ),
        // Who retried a run last: a maker of what its latest go leads to (maker-checker).
        ("v21_retried_by", ["ALTER TABLE runs ADD COLUMN retried_by TEXT"]),
    ]

    /// The advisory lock key that serializes migrations (any fixed 64-bit number).
    static let lockKey: Int64 = 0x7561_6566_6D69_6772  // "uaefmigr"

    /// Applies pending migrations; returns the names applied now.
    @discardableResult
    static func migrate(_ client: PostgresClient, location: String, logger: Logger) async throws -> [String] {
        try await PostgresStore.transaction(client, location: location, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS uaef_migrations (
                    name TEXT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM uaef_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(name)
            }
            var now: [String] = []
            for migration in all where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO uaef_migrations (name) VALUES (\(migration.name))", logger: logger)
                now.append(migration.name)
            }
            return now
        }
    }

    /// Names of the migrations this build knows but the database has not applied.
    static func pending(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        let exists =
            try await client.query("SELECT to_regclass('uaef_migrations') IS NOT NULL", logger: logger)
            .decode(Bool.self).first { _ in true } ?? false
        guard exists else { return all.map(\.name) }
        var applied: Set<String> = []
        for try await name in try await client.query("SELECT name FROM uaef_migrations", logger: logger)
            .decode(String.self)
        {
            applied.insert(name)
        }
        return all.map(\.name).filter { !applied.contains($0) }
    }

    /// The tables of SQLite's v1–v4 in one step. Times are milliseconds since 1970 (BIGINT), event
    /// and JSON columns are the exact text that was hashed or written, hashes are BYTEA.
    static let v1Schema: [String] = [
        """
        CREATE TABLE events (
            seq BIGINT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            time TEXT NOT NULL,
            type TEXT NOT NULL,
            actor TEXT NOT NULL,
            tenant TEXT NOT NULL,
            subject TEXT NOT NULL,
            data TEXT NOT NULL,
            leaf_hash BYTEA,
            payloads BYTEA,
            payloads_redacted_by BIGINT
        )
        """,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            workflow_name TEXT NOT NULL,
            workflow_version BIGINT NOT NULL,
            workflow_source TEXT NOT NULL,
            workflow_file TEXT NOT NULL,
            inputs TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            ended_at BIGINT,
            cancel_requested BOOLEAN NOT NULL DEFAULT false,
            owner TEXT,
            lease_expires_at BIGINT,
            created_by TEXT
        )
        """,
        "CREATE INDEX runs_by_tenant_status ON runs (tenant, status, id)",
        """
        CREATE TABLE tasks (
            tenant TEXT NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs (id),
            key TEXT NOT NULL,
            task_id TEXT NOT NULL,
            idx BIGINT,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            agent_id TEXT,
            output TEXT,
            error TEXT,
            reason TEXT,
            next_attempt_at BIGINT,
            item TEXT,
            instance_count BIGINT,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (run_id, key)
        )
        """,
        """
        CREATE TABLE attempts (
            tenant TEXT NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs (id),
            key TEXT NOT NULL,
            number BIGINT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            agent_id TEXT,
            status TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            ended_at BIGINT,
            error TEXT,
            PRIMARY KEY (run_id, key, number)
        )
        """,
        "CREATE INDEX attempts_by_agent ON attempts (agent_id, started_at)",
        """
        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            capabilities TEXT NOT NULL,
            configuration TEXT NOT NULL,
            max_concurrency BIGINT NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (tenant, name)
        )
        """,
        // The ledger's sequencer: one row, locked by every append, holding the tree's size and
        // right edge (the hashes of its right-edge complete subtrees, lowest level first).
        """
        CREATE TABLE ledger_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            size BIGINT NOT NULL,
            frontier BYTEA NOT NULL
        )
        """,
        "INSERT INTO ledger_state (id, size, frontier) VALUES (1, 0, ''::bytea)",
        """
        CREATE TABLE ledger_nodes (
            level INTEGER NOT NULL,
            idx BIGINT NOT NULL,
            hash BYTEA NOT NULL,
            PRIMARY KEY (level, idx)
        )
        """,
        "CREATE TABLE tree_heads (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, time TEXT NOT NULL)",
        "CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL, time TEXT NOT NULL)",
        "CREATE TABLE ledger_info (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE TABLE rule_sets (
            tenant TEXT NOT NULL,
            version BIGINT NOT NULL,
            file TEXT NOT NULL,
            source TEXT NOT NULL,
            loaded_at BIGINT NOT NULL,
            PRIMARY KEY (tenant, version)
        )
        """,
        """
        CREATE TABLE accounts (
            tenant TEXT NOT NULL,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            currency TEXT NOT NULL,
            limit_flag TEXT,
            debits_posted BIGINT NOT NULL DEFAULT 0,
            credits_posted BIGINT NOT NULL DEFAULT 0,
            debits_pending BIGINT NOT NULL DEFAULT 0,
            credits_pending BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant, id)
        )
        """,
        """
        CREATE TABLE settlements (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            trigger_seq BIGINT NOT NULL,
            status TEXT NOT NULL,
            amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            maker TEXT NOT NULL,
            detail TEXT NOT NULL,
            reason TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            expires_at BIGINT,
            UNIQUE (tenant, rule_id, trigger_seq)
        )
        """,
        "CREATE INDEX settlements_by_status ON settlements (tenant, status, expires_at)",
        """
        CREATE TABLE transfers (
            id BIGSERIAL PRIMARY KEY,
            tenant TEXT NOT NULL,
            settlement_id TEXT NOT NULL REFERENCES settlements (id),
            debit_account TEXT NOT NULL,
            credit_account TEXT NOT NULL,
            amount BIGINT NOT NULL CHECK (amount >= 0),
            currency TEXT NOT NULL,
            phase TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX transfers_by_settlement ON transfers (settlement_id)",
        """
        CREATE TABLE approvals (
            settlement_id TEXT NOT NULL,
            principal TEXT NOT NULL,
            role TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT,
            time BIGINT NOT NULL,
            PRIMARY KEY (settlement_id, principal)
        )
        """,
        """
        CREATE TABLE task_approvals (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            attempt_key TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            approvers BIGINT NOT NULL,
            message TEXT NOT NULL,
            maker TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE signals (
            tenant TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            event_seq BIGINT NOT NULL,
            PRIMARY KEY (tenant, idempotency_key)
        )
        """,
        "CREATE TABLE settlement_cursors (tenant TEXT PRIMARY KEY, next_seq BIGINT NOT NULL)",
    ]
}
