import GRDB

/// The SQLite schema as named migrations; a released migration is never edited, only followed.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1_engine") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        time TEXT NOT NULL,
                        type TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        data TEXT NOT NULL
                    );
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        workflow_name TEXT NOT NULL,
                        workflow_version INTEGER NOT NULL,
                        workflow_source TEXT NOT NULL,
                        workflow_file TEXT NOT NULL,
                        inputs TEXT NOT NULL,
                        status TEXT NOT NULL,
                        error TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        cancel_requested INTEGER NOT NULL DEFAULT 0,
                        owner TEXT,
                        lease_expires_at INTEGER
                    );
                    CREATE INDEX runs_by_tenant_status ON runs (tenant, status, id);
                    CREATE TABLE tasks (
                        tenant TEXT NOT NULL,
                        run_id TEXT NOT NULL REFERENCES runs (id),
                        key TEXT NOT NULL,
                        task_id TEXT NOT NULL,
                        idx INTEGER,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        agent_id TEXT,
                        output TEXT,
                        error TEXT,
                        reason TEXT,
                        next_attempt_at INTEGER,
                        item TEXT,
                        instance_count INTEGER,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (run_id, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE attempts (
                        tenant TEXT NOT NULL,
                        run_id TEXT NOT NULL REFERENCES runs (id),
                        key TEXT NOT NULL,
                        number INTEGER NOT NULL,
                        idempotency_key TEXT NOT NULL UNIQUE,
                        agent_id TEXT,
                        status TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        error TEXT,
                        PRIMARY KEY (run_id, key, number)
                    ) WITHOUT ROWID;
                    CREATE INDEX attempts_by_agent ON attempts (agent_id, started_at);
                    CREATE TABLE agents (
                        id TEXT PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        name TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        capabilities TEXT NOT NULL,
                        configuration TEXT NOT NULL,
                        max_concurrency INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        UNIQUE (tenant, name)
                    );
                    """)
        }
        migrator.registerMigration("v2_ledger") { db in
            try db.execute(
                sql: """
                    ALTER TABLE events ADD COLUMN leaf_hash BLOB;
                    CREATE TABLE ledger_nodes (
                        level INTEGER NOT NULL,
                        idx INTEGER NOT NULL,
                        hash BLOB NOT NULL,
                        PRIMARY KEY (level, idx)
                    ) WITHOUT ROWID;
                    CREATE TABLE tree_heads (
                        size INTEGER PRIMARY KEY,
                        root BLOB NOT NULL,
                        time TEXT NOT NULL
                    );
                    CREATE TABLE checkpoints (
                        size INTEGER PRIMARY KEY,
                        note TEXT NOT NULL,
                        time TEXT NOT NULL
                    );
                    CREATE TABLE ledger_info (
                        name TEXT PRIMARY KEY,
                        value TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v3_payloads") { db in
            // An event's payloads (task inputs and outputs) in the frame of EventPayloads.frame,
            // beside the event but outside what the ledger hashes (the data holds their digests).
            // Redaction sets `payloads` to NULL and records the seq of the `payload.redacted` event.
            try db.execute(
                sql: """
                    ALTER TABLE events ADD COLUMN payloads BLOB;
                    ALTER TABLE events ADD COLUMN payloads_redacted_by INTEGER;
                    """)
        }
        migrator.registerMigration("v4_settlements") { db in
            // Balances and amounts are integer minor units; currencies are ISO 4217 codes.
            try db.execute(
                sql: """
                    ALTER TABLE runs ADD COLUMN created_by TEXT;
                    CREATE TABLE rule_sets (
                        tenant TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        file TEXT NOT NULL,
                        source TEXT NOT NULL,
                        loaded_at INTEGER NOT NULL,
                        PRIMARY KEY (tenant, version)
                    );
                    CREATE TABLE accounts (
                        tenant TEXT NOT NULL,
                        id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        currency TEXT NOT NULL,
                        limit_flag TEXT,
                        debits_posted INTEGER NOT NULL DEFAULT 0,
                        credits_posted INTEGER NOT NULL DEFAULT 0,
                        debits_pending INTEGER NOT NULL DEFAULT 0,
                        credits_pending INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (tenant, id)
                    ) WITHOUT ROWID;
                    CREATE TABLE settlements (
                        id TEXT PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        rule_id TEXT NOT NULL,
                        trigger_seq INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        amount INTEGER NOT NULL,
                        currency TEXT NOT NULL,
                        maker TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        reason TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        expires_at INTEGER,
                        UNIQUE (tenant, rule_id, trigger_seq)
                    );
                    CREATE INDEX settlements_by_status ON settlements (tenant, status, expires_at);
                    CREATE TABLE transfers (
                        id INTEGER PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        settlement_id TEXT NOT NULL REFERENCES settlements (id),
                        debit_account TEXT NOT NULL,
                        credit_account TEXT NOT NULL,
                        amount INTEGER NOT NULL CHECK (amount >= 0),
                        currency TEXT NOT NULL,
                        phase TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX transfers_by_settlement ON transfers (settlement_id);
                    CREATE TABLE approvals (
                        settlement_id TEXT NOT NULL,
                        principal TEXT NOT NULL,
                        role TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        reason TEXT,
                        time INTEGER NOT NULL,
                        PRIMARY KEY (settlement_id, principal)
                    ) WITHOUT ROWID;
                    CREATE TABLE task_approvals (
                        id TEXT PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        attempt_key TEXT NOT NULL UNIQUE,
                        role TEXT NOT NULL,
                        approvers INTEGER NOT NULL,
                        message TEXT NOT NULL,
                        maker TEXT NOT NULL,
                        status TEXT NOT NULL,
                        reason TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE TABLE signals (
                        tenant TEXT NOT NULL,
                        idempotency_key TEXT NOT NULL,
                        name TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        event_seq INTEGER NOT NULL,
                        PRIMARY KEY (tenant, idempotency_key)
                    ) WITHOUT ROWID;
                    CREATE TABLE settlement_cursors (
                        tenant TEXT PRIMARY KEY,
                        next_seq INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v5_lease_generations") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN lease_generation INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v6_registry") { db in
            try db.execute(
                sql: """
                    CREATE TABLE workflows (
                        tenant TEXT NOT NULL,
                        name TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        created_by TEXT NOT NULL,
                        PRIMARY KEY (tenant, name, version)
                    ) WITHOUT ROWID;
                    CREATE TABLE run_requests (
                        tenant TEXT NOT NULL,
                        idempotency_key TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (tenant, idempotency_key)
                    ) WITHOUT ROWID;
                    CREATE INDEX runs_by_workflow ON runs (tenant, workflow_name, id);
                    """)
        }
        migrator.registerMigration("v7_remote_work") { db in
            try db.execute(
                sql: """
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
                        generation INTEGER NOT NULL,
                        lease_expires_at INTEGER,
                        output TEXT,
                        error TEXT,
                        retryable INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX remote_tasks_claimable ON remote_tasks (tenant, agent_id, status, created_at);
                    CREATE TABLE agent_keys (
                        id TEXT PRIMARY KEY,
                        tenant TEXT NOT NULL,
                        agent_id TEXT NOT NULL,
                        sha256 TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        created_by TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v8_secrets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE secrets (
                        tenant TEXT NOT NULL,
                        name TEXT NOT NULL,
                        sealed TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        updated_by TEXT NOT NULL,
                        PRIMARY KEY (tenant, name)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v9_worker_tasks") { db in
            // Attempts queued for workers that serve their capability share the remote agents' queue.
            try db.execute(
                sql: """
                    ALTER TABLE remote_tasks ADD COLUMN placement TEXT NOT NULL DEFAULT 'agent';
                    ALTER TABLE remote_tasks ADD COLUMN kind TEXT;
                    CREATE INDEX remote_tasks_for_workers ON remote_tasks (tenant, placement, status, created_at);
                    """)
        }
        migrator.registerMigration("v10_append_only_journal") { db in
            // The journal is append-only (TigerBeetle's two-phase transfers): posting or voiding a
            // pending transfer is a new transfer naming it, at most one per pending transfer.
            try db.execute(
                sql: """
                    ALTER TABLE transfers ADD COLUMN pending_id INTEGER REFERENCES transfers (id);
                    CREATE UNIQUE INDEX transfers_resolving ON transfers (pending_id) WHERE pending_id IS NOT NULL;
                    CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
                    BEGIN SELECT RAISE(ABORT, 'transfers are append-only: UPDATE refused'); END;
                    CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
                    BEGIN SELECT RAISE(ABORT, 'transfers are append-only: DELETE refused'); END;
                    """)
        }
        migrator.registerMigration("v11_connectors") { db in
            try db.execute(
                sql: """
                    CREATE TABLE connectors (
                        tenant TEXT NOT NULL,
                        name TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        settings TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        updated_by TEXT NOT NULL,
                        PRIMARY KEY (tenant, name)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v12_deliveries") { db in
            try db.execute(
                sql: """
                    CREATE TABLE subscription_cursors (
                        tenant TEXT NOT NULL,
                        connector TEXT NOT NULL,
                        next_seq INTEGER NOT NULL,
                        paused_reason TEXT,
                        PRIMARY KEY (tenant, connector)
                    ) WITHOUT ROWID;
                    CREATE TABLE deliveries (
                        tenant TEXT NOT NULL,
                        connector TEXT NOT NULL,
                        id TEXT NOT NULL,
                        event_seq INTEGER NOT NULL,
                        event_type TEXT NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        next_attempt_at INTEGER,
                        lease_until INTEGER,
                        last_status INTEGER,
                        last_error TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        UNIQUE (tenant, connector, id)
                    );
                    CREATE INDEX deliveries_due ON deliveries (tenant, connector, status, event_seq);
                    CREATE INDEX deliveries_by_event ON deliveries (tenant, event_seq);
                    """)
        }
        migrator.registerMigration("v13_conversations") { db in
            try db.execute(
                sql: """
                    CREATE TABLE conversation_steps (
                        tenant TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        task_key TEXT NOT NULL,
                        idx INTEGER NOT NULL,
                        attempt INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        agent TEXT NOT NULL,
                        day TEXT NOT NULL,
                        input_tokens INTEGER NOT NULL,
                        output_tokens INTEGER NOT NULL,
                        cache_creation_tokens INTEGER NOT NULL,
                        cache_read_tokens INTEGER NOT NULL,
                        cost_nanos INTEGER NOT NULL,
                        currency TEXT,
                        latency_ms INTEGER NOT NULL,
                        event_id TEXT NOT NULL,
                        PRIMARY KEY (tenant, run_id, task_key, idx)
                    ) WITHOUT ROWID;
                    CREATE INDEX conversation_steps_by_agent ON conversation_steps (tenant, agent, day);
                    """)
        }
        migrator.registerMigration("v14_task_checkpoints") { db in
            try db.execute(
                sql: """
                    CREATE TABLE task_checkpoints (
                        tenant TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        task_key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (tenant, run_id, task_key)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v15_run_trace_parent") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN trace_parent TEXT")
        }
        migrator.registerMigration("v16_console_indexes") { db in
            // A run's events by the run id their subject starts with (see SQLiteStore.runEvents),
            // and a tenant's runs newest first without a filter.
            try db.execute(sql: "CREATE INDEX events_by_run ON events (tenant, \(SQLiteStore.subjectRun), seq)")
            try db.execute(sql: "CREATE INDEX runs_by_tenant ON runs (tenant, id)")
        }
        migrator.registerMigration("v17_analytics") { db in
            // Hourly counts kept from the event log (AnalyticsRollup), read by hour range.
            try db.execute(
                sql: """
                    CREATE TABLE analytics_buckets (
                        tenant TEXT NOT NULL, dimension TEXT NOT NULL, span TEXT NOT NULL, hour INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        currency TEXT NOT NULL, total INTEGER NOT NULL, succeeded INTEGER NOT NULL,
                        failed INTEGER NOT NULL, cancelled INTEGER NOT NULL, durations TEXT NOT NULL,
                        amount INTEGER NOT NULL, tokens INTEGER NOT NULL,
                        PRIMARY KEY (tenant, dimension, span, hour, key, currency)
                    ) WITHOUT ROWID
                    """)
            try db.execute(
                sql: "CREATE TABLE analytics_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), next_seq INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO analytics_cursor (id, next_seq) VALUES (1, 0)")
        }
        migrator.registerMigration("v18_schedules") { db in
            // A tenant's schedules; the due ones are found by their next slot.
            try db.execute(
                sql: """
                    CREATE TABLE schedules (
                        tenant TEXT NOT NULL,
                        name TEXT NOT NULL,
                        definition TEXT NOT NULL,
                        paused INTEGER NOT NULL,
                        note TEXT,
                        next_at INTEGER,
                        last_slot INTEGER,
                        last_run TEXT,
                        last_error TEXT,
                        revision INTEGER NOT NULL,
                        claimed_by TEXT,
                        claimed_until INTEGER,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        updated_by TEXT NOT NULL,
                        PRIMARY KEY (tenant, name)
                    ) WITHOUT ROWID
                    """)
            try db.execute(sql: "CREATE INDEX schedules_due ON schedules (next_at) WHERE paused = 0")
        }
        migrator.registerMigration("v19_run_retries") { db in
            // Runs retried after they failed or were cancelled, and each reopened task's earlier attempts.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN retry_count INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN retried_at INTEGER")
            try db.execute(sql: "ALTER TABLE tasks ADD COLUMN attempts_before_retry INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v20_child_runs") { db in
            // Runs started by another run's `workflow` task, listed by their parent.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN parent_run_id TEXT")
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN parent_task TEXT")
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0")
            try db.execute(
                sql: "CREATE INDEX runs_parent ON runs (tenant, parent_run_id, id) WHERE parent_run_id IS NOT NULL")
        }
        migrator.registerMigration("v21_remote_tasks_by_run") { db in
            // A run's unfinished queued attempts, withdrawn when it is cancelled or retried.
            try db.execute(
                sql:
                    "CREATE INDEX remote_tasks_unfinished ON remote_tasks (run_id) WHERE status IN ('queued', 'claimed')"
            )
        }
        migrator.registerMigration("v22_buffered_schedules") { db in
            // A schedule's next slot held until its last run ends (overlap buffer_one, buffer_all).
            try db.execute(sql: "ALTER TABLE schedules ADD COLUMN buffered INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v23_detached_children") { db in
            // Child runs started without waiting, which their parent's end leaves alone.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN parent_detached INTEGER NOT NULL DEFAULT 0")
            try db.execute(
                sql: """
                    CREATE INDEX runs_detached_unfinished ON runs (tenant)
                    WHERE parent_detached = 1 AND status IN ('pending', 'running')
                    """)
        }
        migrator.registerMigration("v24_retried_by") { db in
            // Who retried a run last: a maker of what its latest go leads to (maker-checker).
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN retried_by TEXT")
        }
        return migrator
    }
}
