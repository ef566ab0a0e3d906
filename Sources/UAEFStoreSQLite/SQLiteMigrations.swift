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
        return migrator
    }
}
