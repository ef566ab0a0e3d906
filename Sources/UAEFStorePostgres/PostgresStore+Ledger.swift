import Foundation
import Logging
import PostgresNIO
import UAEFCore
import UAEFLedger
import UAEFStore

/// The ledger on PostgreSQL: the same tree as SQLite's (leaf hashes beside the events, subtrees
/// of 16 leaves and more in `ledger_nodes`, a head per commit), appended under the sequencer row.
enum PostgresLedger {
    /// Appends events, numbered gap-free after the newest, with their leaves, subtrees and the new
    /// tree head; returns the seq of the first. Locks `ledger_state` until the transaction ends, so
    /// callers do this last.
    @discardableResult
    static func append(_ events: [EventDraft], on connection: PostgresConnection, logger: Logger) async throws
        -> Int64
    {
        guard !events.isEmpty else { return try await size(on: connection, logger: logger) }
        var frontier = try await lockFrontier(on: connection, logger: logger)
        let first = Int64(frontier.size)
        var prepared: [PreparedEvent] = []
        prepared.reserveCapacity(events.count)
        var nodes: [(level: Int, index: Int, hash: MerkleHash)] = []
        try PreparedEvent.forEach(events, from: first) { event in
            prepared.append(event)
            frontier.append(event.leaf) { level, index, hash in
                if StoredSubtrees.storesNodes(atLevel: level) { nodes.append((level, index, hash)) }
            }
        }
        try await BulkInsert.run(
            prepared, "INSERT INTO events (seq, id, time, type, actor, tenant, subject, data, leaf_hash, payloads)",
            width: 10, on: connection, logger: logger
        ) { event, bindings in
            bindings.append(event.seq)
            bindings.append(event.event.id)
            bindings.append(event.time)
            bindings.append(event.event.type)
            bindings.append(event.event.actor)
            bindings.append(event.event.tenant)
            bindings.append(event.event.subject)
            // The data column holds the canonical bytes the leaf is built from, written once.
            bindings.append(String(decoding: event.canonicalData, as: UTF8.self))
            bindings.append(bytea(event.leaf.bytes))
            bindings.append(event.payloadFrame.map(bytea))
        }
        try await BulkInsert.run(
            nodes, "INSERT INTO ledger_nodes (level, idx, hash)", width: 3, on: connection, logger: logger
        ) { node, bindings in
            bindings.append(node.level)
            bindings.append(node.index)
            bindings.append(bytea(node.hash.bytes))
        }
        let time = Timestamp.format(events.last?.time ?? Date())
        // The head's insert also queues the notification of new events, sent when the transaction commits.
        try await connection.query(
            """
            INSERT INTO tree_heads (size, root, time)
            SELECT \(frontier.size), \(bytea(frontier.root.bytes)), \(time)
            FROM (SELECT pg_notify(\(PostgresStore.eventChannel), '')) AS notified
            """, logger: logger)
        try await connection.query(
            """
            UPDATE ledger_state SET size = \(frontier.size), frontier = \(bytea(frontierBytes(frontier)))
            WHERE id = 1
            """, logger: logger)
        return first
    }

    /// The number of events, without locking.
    static func size(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await size in try await connection.query("SELECT size FROM ledger_state WHERE id = 1", logger: logger)
            .decode(Int64.self)
        {
            return size
        }
        throw StoreCorruption(location: "ledger_state", reason: "the sequencer row is missing")
    }

    /// Locks the sequencer row and reads the tree's right edge from it.
    private static func lockFrontier(on connection: PostgresConnection, logger: Logger) async throws
        -> MerkleFrontier
    {
        for try await (size, bytes) in try await connection.query(
            "SELECT size, frontier FROM ledger_state WHERE id = 1 FOR UPDATE", logger: logger
        ).decode((Int, ByteBuffer).self) {
            let positions = MerkleFrontier.positions(size: size)
            let hashes = Array(bytes.readableBytesView)
            guard hashes.count == positions.count * 32 else {
                throw StoreCorruption(
                    location: "ledger_state.frontier", reason: "\(hashes.count) bytes for a tree of \(size) events")
            }
            var byLevel: [Int: MerkleHash] = [:]
            for (offset, position) in positions.enumerated() {
                byLevel[position.level] = MerkleHash(bytes: hashes[offset * 32..<(offset + 1) * 32])
            }
            return MerkleFrontier(size: size, source: FrontierHashes(byLevel: byLevel))
        }
        throw StoreCorruption(location: "ledger_state", reason: "the sequencer row is missing")
    }

    /// The right edge's hashes, lowest level first, as `ledger_state.frontier` keeps them.
    private static func frontierBytes(_ frontier: MerkleFrontier) -> [UInt8] {
        frontier.subtrees.compactMap { $0 }.flatMap(\.bytes)
    }

    /// The frontier's subtrees as read from the sequencer row: one per level.
    private struct FrontierHashes: SubtreeHashes {
        let byLevel: [Int: MerkleHash]

        func subtreeHash(level: Int, index: Int) -> MerkleHash { byLevel[level] ?? .empty }
    }
}

extension PostgresStore {
    /// Runs `compute` over exactly the stored subtrees it reads.
    private func computing<T>(_ compute: (any SubtreeHashes) -> T) async throws -> T {
        let positions = StoredSubtrees.positions(of: compute)
        var found: [StoredSubtrees.Read: [Int: MerkleHash]] = [:]
        for read in StoredSubtrees.reads(for: positions) {
            let query: PostgresQuery =
                read.level == 0
                ? "SELECT seq, leaf_hash FROM events WHERE seq BETWEEN \(read.first) AND \(read.last)"
                : """
                SELECT idx, hash FROM ledger_nodes WHERE level = \(read.level) AND idx BETWEEN \(read.first) AND \(read.last)
                """
            let hashes = try await rows(query) { row in
                let (index, bytes) = try row.decode((Int, ByteBuffer?).self)
                guard let bytes, let hash = MerkleHash(bytes: Array(bytes.readableBytesView)) else {
                    throw StoreCorruption(
                        location: read.level == 0 ? "events.leaf_hash" : "ledger_nodes.hash",
                        reason: "not a 32-byte hash")
                }
                return (index, hash)
            }
            found[read] = Dictionary(hashes) { _, last in last }
        }
        return compute(try StoredSubtrees(positions: positions, rows: found))
    }

    public func treeHead() async throws -> (size: Int, root: MerkleHash) {
        try await rows("SELECT size, root FROM tree_heads ORDER BY size DESC LIMIT 1", Self.treeHead).first
            ?? (0, MerkleHash.empty)
    }

    public func treeHeads() async throws -> [(size: Int, root: MerkleHash)] {
        try await rows("SELECT size, root FROM tree_heads ORDER BY size", Self.treeHead)
    }

    private static func treeHead(_ row: PostgresRow) throws -> (size: Int, root: MerkleHash) {
        let c = Columns(row, table: "tree_heads")
        guard let root = try c.hash("root") else {
            throw StoreCorruption(location: "tree_heads.root", reason: "missing")
        }
        return (try c("size"), root)
    }

    public func root(size: Int) async throws -> MerkleHash {
        try await computing { MerkleTree.root($0, size: size) }
    }

    public func inclusionProof(index: Int, size: Int) async throws -> [MerkleHash]? {
        try await computing {
            MerkleTree.inclusionProof($0, index: index, size: size)
        }
    }

    public func consistencyProof(from oldSize: Int, to newSize: Int) async throws -> [MerkleHash]? {
        try await computing {
            MerkleTree.consistencyProof($0, from: oldSize, to: newSize)
        }
    }

    public func ledgerEvents(from seq: Int64, limit: Int) async throws -> [(
        record: EventRecord, storedLeaf: MerkleHash?
    )] {
        try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events WHERE seq >= \(seq) ORDER BY seq LIMIT \(limit)
            """
        ) { row in
            let (record, leaf) = try Self.event(row)
            return (record, leaf)
        }
    }

    public func scanLedger<Scan: LedgerScan>(from seq: Int64, limit: Int, into scan: Scan) async throws -> Scan {
        var scan = scan
        // Each row's columns are copied into one reused buffer and visited as views into it.
        var arena: [UInt8] = []
        var columns: [Range<Int>?] = []
        do {
            let query: PostgresQuery = """
                SELECT seq, id, time, type, actor, tenant, subject, data, leaf_hash, payloads, payloads_redacted_by
                FROM events WHERE seq >= \(seq) ORDER BY seq LIMIT \(limit)
                """
            for try await row in try await client.query(query, logger: logger) {
                let cells = row.makeRandomAccess()
                guard let eventSeq = try? cells[0].decode(Int64.self) else {
                    throw StoreCorruption(location: "events.seq", reason: "not an integer")
                }
                arena.removeAll(keepingCapacity: true)
                columns.removeAll(keepingCapacity: true)
                for column in 1...9 {
                    guard let bytes = cells[column].bytes else {
                        columns.append(nil)
                        continue
                    }
                    let start = arena.count
                    arena.append(contentsOf: bytes.readableBytesView)
                    columns.append(start..<arena.count)
                }
                let keepGoing = try arena.withUnsafeBytes { raw in
                    func column(_ index: Int) -> UnsafeRawBufferPointer? {
                        columns[index - 1].map { UnsafeRawBufferPointer(rebasing: raw[$0]) }
                    }
                    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
                    return try scan.visit(
                        StoredLedgerEvent(
                            seq: eventSeq, id: column(1) ?? empty, time: column(2) ?? empty, type: column(3) ?? empty,
                            actor: column(4) ?? empty, tenant: column(5) ?? empty, subject: column(6) ?? empty,
                            canonicalData: column(7) ?? empty, leafHash: column(8), payloadFrame: column(9) ?? empty,
                            payloadsRedacted: cells[10].bytes != nil))
                }
                if !keepGoing { break }
            }
        } catch let error as StoreCorruption {
            throw error
        } catch {
            throw PostgresStoreError.wrap(error, location: location)
        }
        return scan
    }

    public func ledgerInfo(_ name: String) async throws -> String? {
        try await rows("SELECT value FROM ledger_info WHERE name = \(name)") { try $0.decode(String.self) }.first
    }

    public func setLedgerInfoIfAbsent(_ name: String, value: String) async throws -> String {
        try await execute(
            "INSERT INTO ledger_info (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO NOTHING")
        return try await ledgerInfo(name) ?? value
    }

    public func saveCheckpoint(size: Int, note: String, time: Date) async throws {
        try await execute(
            """
            INSERT INTO checkpoints (size, note, time) VALUES (\(size), \(note), \(Timestamp.format(time)))
            ON CONFLICT (size) DO UPDATE SET note = excluded.note, time = excluded.time
            """)
    }

    public func checkpoints() async throws -> [(size: Int, note: String)] {
        try await rows("SELECT size, note FROM checkpoints ORDER BY size") { row in
            let (size, note) = try row.decode((Int, String).self)
            return (size, note)
        }
    }

    public func redactPayloads(of runID: RunID, tenant: String, task: String?, event: EventDraft) async throws
        -> RedactionOutcome
    {
        try await transaction { connection in
            var status: RunStatus?
            for try await raw in try await connection.query(
                "SELECT status FROM runs WHERE id = \(runID.rawValue) AND tenant = \(tenant) FOR UPDATE",
                logger: logger
            ).decode(String.self) {
                guard let value = RunStatus(rawValue: raw) else {
                    throw StoreCorruption(location: "runs.status", reason: "unknown value \(raw)")
                }
                status = value
            }
            guard let status else { return .runNotFound }
            guard status.isTerminal else { return .runActive(status) }
            let rule = RedactionRule(run: runID, task: task)
            var erased: [JSONValue] = []
            var seqs: [Int64] = []
            // Candidates: the run's events with payloads, through the index of events by run (not a
            // scan of the tenant's log inside the transaction); the rule decides.
            for try await (seq, subject, frame) in try await connection.query(
                """
                SELECT seq, subject, payloads FROM events
                WHERE tenant = \(tenant) AND split_part(subject, '/', 1) = \(runID.rawValue) AND payloads IS NOT NULL
                ORDER BY seq
                """, logger: logger
            ).decode((Int64, String, ByteBuffer).self) where rule.covers(subject) {
                seqs.append(seq)
                erased += try Array(frame.readableBytesView).withUnsafeBytes {
                    try RedactionRule.erased(seq: seq, frame: $0)
                }
            }
            let redaction = RedactionRule.event(event, erased: erased)
            if let task {
                try await connection.query(
                    """
                    UPDATE tasks SET output = NULL
                    WHERE run_id = \(runID.rawValue) AND tenant = \(tenant) AND (task_id = \(task) OR key = \(task))
                    """, logger: logger)
            } else {
                try await connection.query(
                    "UPDATE tasks SET output = NULL WHERE run_id = \(runID.rawValue) AND tenant = \(tenant)",
                    logger: logger)
                try await connection.query(
                    "UPDATE runs SET inputs = '{}' WHERE id = \(runID.rawValue) AND tenant = \(tenant)", logger: logger)
            }
            // The run changed as readers see it: cached reports of it are stale now.
            try await connection.query(
                """
                UPDATE runs SET updated_at = \(Timestamp.milliseconds(redaction.time))
                WHERE id = \(runID.rawValue) AND tenant = \(tenant)
                """, logger: logger)
            let seq = try await PostgresLedger.append([redaction], on: connection, logger: logger)
            try await connection.query(
                "UPDATE events SET payloads = NULL, payloads_redacted_by = \(seq) WHERE seq = ANY(\(seqs))",
                logger: logger)
            return .redacted(EventRecord(seq: seq, event: redaction))
        }
    }
}
