import Foundation
import GRDB
import UAEFCore
import UAEFLedger
import UAEFStore

/// The ledger side of the SQLite store: every event is a leaf of an RFC 6962 Merkle tree,
/// appended in the same transaction as the event. Leaf hashes live in `events.leaf_hash`,
/// complete subtrees of 16 leaves and more in `ledger_nodes`, and the tree head after each commit in
/// `tree_heads`, so roots and proofs take O(log n) reads.
extension SQLiteStore {
    /// Appends events, numbered gap-free from 0, with their leaves, subtrees and the new tree head.
    static func appendEvents(_ events: [EventDraft], in db: Database) throws {
        guard !events.isEmpty else { return }
        let first = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM events") ?? 0
        var frontier = try loadFrontier(size: Int(first), in: db)
        let insertEvent = try db.cachedStatement(
            sql: """
                INSERT INTO events (seq, id, time, type, actor, tenant, subject, data, leaf_hash, payloads)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let insertNode = try db.cachedStatement(sql: "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)")
        try PreparedEvent.forEach(events, from: first) { prepared in
            // The data column holds the canonical bytes the leaf is built from, written once.
            try insertEvent.executeFast([
                .integer(prepared.seq), .text(prepared.event.id), .text(prepared.time), .text(prepared.event.type),
                .text(prepared.event.actor), .text(prepared.event.tenant), .text(prepared.event.subject),
                .utf8(prepared.canonicalData), .hash(prepared.leaf),
                prepared.payloadFrame.map(BoundValue.blob) ?? .null,
            ])
            try frontier.append(prepared.leaf) { level, index, hash in
                guard StoredSubtrees.storesNodes(atLevel: level) else { return }
                try insertNode.executeFast([.integer(Int64(level)), .integer(Int64(index)), .hash(hash)])
            }
        }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO tree_heads (size, root, time) VALUES (?, ?, ?)")
            .executeFast([
                .integer(Int64(frontier.size)), .hash(frontier.root),
                .text(Timestamp.format(events.last?.time ?? Date())),
            ])
    }

    /// The right edge of the tree of the first `size` events.
    static func loadFrontier(size: Int, in db: Database) throws -> MerkleFrontier {
        MerkleFrontier(size: size, source: try SQLiteSubtrees.load(MerkleFrontier.positions(size: size), in: db))
    }

    /// Hashes the leaves of events written before the ledger existed (stores from before
    /// migration v2_ledger), in order, so every store has a complete tree. Only a store that has
    /// never had a tree head is filled in: a missing leaf in a store with a ledger is tampering,
    /// for `uaef ledger verify` to report, never to repair.
    static func backfillLedger(in db: Database) throws {
        guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tree_heads") == 0,
            let firstMissing = try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM events WHERE leaf_hash IS NULL")
        else { return }
        var frontier = try loadFrontier(size: Int(firstMissing), in: db)
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(eventColumns) FROM events WHERE seq >= ? ORDER BY seq", arguments: [firstMissing])
        for row in rows {
            let record = try event(row)
            let leaf = record.leafHash
            try db.execute(
                sql: "UPDATE events SET leaf_hash = ? WHERE seq = ?", arguments: [Data(leaf.bytes), record.seq])
            try frontier.append(leaf) { level, index, hash in
                guard StoredSubtrees.storesNodes(atLevel: level) else { return }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)",
                    arguments: [level, index, Data(hash.bytes)])
            }
        }
        try db.execute(
            sql: "INSERT OR REPLACE INTO tree_heads (size, root, time) VALUES (?, ?, ?)",
            arguments: [frontier.size, Data(frontier.root.bytes), Timestamp.format(Date())])
    }

    /// The newest tree head: (size, root); the empty tree when nothing was written.
    public func treeHead() async throws -> (size: Int, root: MerkleHash) {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT size, root FROM tree_heads ORDER BY size DESC LIMIT 1"),
                let root = MerkleHash(bytes: Array(row["root"] as Data))
            else { return (0, MerkleHash.empty) }
            return (row["size"], root)
        }
    }

    public func treeHeads() async throws -> [(size: Int, root: MerkleHash)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT size, root FROM tree_heads ORDER BY size").map { row in
                guard let root = MerkleHash(bytes: Array(row["root"] as Data)) else {
                    throw StoreCorruption(location: "tree_heads.root", reason: "not a 32-byte hash")
                }
                return (row["size"], root)
            }
        }
    }

    public func ledgerEvents(from seq: Int64, limit: Int) async throws -> [(
        record: EventRecord, storedLeaf: MerkleHash?
    )] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT \(Self.eventColumns), leaf_hash FROM events WHERE seq >= ? ORDER BY seq LIMIT ?"),
                arguments: [seq, limit]
            )
            .map { row in (try Self.event(row), (row[9] as Data?).flatMap { MerkleHash(bytes: $0) }) }
        }
    }

    public func scanLedger<Scan: LedgerScan>(from seq: Int64, limit: Int, into scan: Scan) async throws -> Scan {
        try await pool.read { db in
            // Millions of rows: the scan reads the columns in SQLite's own buffers.
            var scan = scan
            let statement = try db.cachedStatement(
                sql: """
                    SELECT seq, id, time, type, actor, tenant, subject, data, leaf_hash, payloads, payloads_redacted_by
                    FROM events
                    WHERE seq >= ? ORDER BY seq LIMIT ?
                    """)
            try statement.forEachRowFast([.integer(seq), .integer(Int64(limit))]) { row in
                let event = StoredLedgerEvent(
                    seq: FastColumn.int64(row, 0), id: FastColumn.bytes(row, 1), time: FastColumn.bytes(row, 2),
                    type: FastColumn.bytes(row, 3), actor: FastColumn.bytes(row, 4), tenant: FastColumn.bytes(row, 5),
                    subject: FastColumn.bytes(row, 6), canonicalData: FastColumn.bytes(row, 7),
                    leafHash: FastColumn.isNull(row, 8) ? nil : FastColumn.bytes(row, 8),
                    payloadFrame: FastColumn.bytes(row, 9), payloadsRedacted: !FastColumn.isNull(row, 10))
                return try scan.visit(event)
            }
            return scan
        }
    }

    public func ledgerInfo(_ name: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM ledger_info WHERE name = ?", arguments: [name])
        }
    }

    public func setLedgerInfoIfAbsent(_ name: String, value: String) async throws -> String {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO ledger_info (name, value) VALUES (?, ?)", arguments: [name, value])
            return try String.fetchOne(db, sql: "SELECT value FROM ledger_info WHERE name = ?", arguments: [name])
                ?? value
        }
    }

    public func saveCheckpoint(size: Int, note: String, time: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO checkpoints (size, note, time) VALUES (?, ?, ?)",
                arguments: [size, note, Timestamp.format(time)])
        }
    }

    public func checkpoints() async throws -> [(size: Int, note: String)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT size, note FROM checkpoints ORDER BY size").map {
                ($0["size"], $0["note"])
            }
        }
    }

    /// The root of the first `size` events, from O(log n) stored subtrees.
    public func root(size: Int) async throws -> MerkleHash {
        try await pool.read { db in try SQLiteSubtrees.computing(in: db) { MerkleTree.root($0, size: size) } }
    }

    /// The inclusion proof of event `index` in the tree of the first `size` events; nil when out of range.
    public func inclusionProof(index: Int, size: Int) async throws -> [MerkleHash]? {
        try await pool.read { db in
            try SQLiteSubtrees.computing(in: db) { MerkleTree.inclusionProof($0, index: index, size: size) }
        }
    }

    /// The consistency proof between the trees of the first `oldSize` and `newSize` events.
    public func consistencyProof(from oldSize: Int, to newSize: Int) async throws -> [MerkleHash]? {
        try await pool.read { db in
            try SQLiteSubtrees.computing(in: db) { MerkleTree.consistencyProof($0, from: oldSize, to: newSize) }
        }
    }
}

/// Reads stored subtrees from SQLite.
enum SQLiteSubtrees {
    /// The subtrees at `positions`.
    static func load(_ positions: [(level: Int, index: Int)], in db: Database) throws -> StoredSubtrees {
        var rows: [StoredSubtrees.Read: [Int: MerkleHash]] = [:]
        for read in StoredSubtrees.reads(for: positions) { rows[read] = try fetch(read, db) }
        return try StoredSubtrees(positions: positions, rows: rows)
    }

    /// Runs `compute` over exactly the stored subtrees it reads.
    static func computing<T>(in db: Database, _ compute: (any SubtreeHashes) -> T) throws -> T {
        compute(try load(StoredSubtrees.positions(of: compute), in: db))
    }

    private static func fetch(_ read: StoredSubtrees.Read, _ db: Database) throws -> [Int: MerkleHash] {
        let rows: [Row]
        // Cached statements: a proof makes a read per level, and compiling each anew cost more than running it.
        if read.level == 0 {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq AS idx, leaf_hash AS hash FROM events WHERE seq BETWEEN ? AND ?"),
                arguments: [read.first, read.last])
        } else {
            rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT idx, hash FROM ledger_nodes WHERE level = ? AND idx BETWEEN ? AND ?"),
                arguments: [read.level, read.first, read.last])
        }
        var result: [Int: MerkleHash] = [:]
        for row in rows {
            guard let data = row["hash"] as Data?, let hash = MerkleHash(bytes: data) else {
                throw StoreCorruption(
                    location: read.level == 0 ? "events.leaf_hash" : "ledger_nodes.hash", reason: "not a 32-byte hash")
            }
            result[row["idx"]] = hash
        }
        return result
    }
}

extension SQLiteStore {
    public func redactPayloads(of runID: RunID, tenant: String, task: String?, event: EventDraft) async throws
        -> RedactionOutcome
    {
        try await pool.write { db in
            guard
                let status = try String.fetchOne(
                    db, sql: "SELECT status FROM runs WHERE id = ? AND tenant = ?", arguments: [runID.rawValue, tenant])
            else { return .runNotFound }
            let runStatus = try Self.enumValue(status, "runs.status") as RunStatus
            guard runStatus.isTerminal else { return .runActive(runStatus) }
            let rule = RedactionRule(run: runID, task: task)
            // Candidates: the run's events with payloads, through the index of events by run (not
            // a scan of the tenant's log inside the write); the rule decides.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, subject, payloads FROM events
                    WHERE tenant = ? AND \(Self.subjectRun) = ? AND payloads IS NOT NULL
                    ORDER BY seq
                    """,
                arguments: [tenant, runID.rawValue]
            ).filter { rule.covers($0["subject"]) }
            var erased: [JSONValue] = []
            for row in rows {
                let frame: Data = row["payloads"]
                erased += try frame.withUnsafeBytes { try RedactionRule.erased(seq: row["seq"], frame: $0) }
            }
            let redaction = RedactionRule.event(event, erased: erased)
            let seq = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM events") ?? 0
            try Self.appendEvents([redaction], in: db)
            for row in rows {
                try db.execute(
                    sql: "UPDATE events SET payloads = NULL, payloads_redacted_by = ? WHERE seq = ?",
                    arguments: [seq, row["seq"] as Int64])
            }
            if let task {
                try db.execute(
                    sql: "UPDATE tasks SET output = NULL WHERE run_id = ? AND tenant = ? AND (task_id = ? OR key = ?)",
                    arguments: [runID.rawValue, tenant, task, task])
            } else {
                try db.execute(
                    sql: "UPDATE tasks SET output = NULL WHERE run_id = ? AND tenant = ?",
                    arguments: [runID.rawValue, tenant])
                try db.execute(
                    sql: "UPDATE runs SET inputs = '{}' WHERE id = ? AND tenant = ?",
                    arguments: [runID.rawValue, tenant])
            }
            // The run changed as readers see it: cached reports of it are stale now.
            try db.execute(
                sql: "UPDATE runs SET updated_at = ? WHERE id = ? AND tenant = ?",
                arguments: [Timestamp.milliseconds(redaction.time), runID.rawValue, tenant])
            return .redacted(EventRecord(seq: seq, event: redaction))
        }
    }
}
