import Foundation
import GRDB
import Testing
import UAEFCore
import UAEFLedger
import UAEFStore
import UAEFTestSupport

/// The verifier checks blocks of events concurrently and folds them in order; whatever the block
/// size, it must count, check and locate exactly as one pass over every event does.
@Suite("Ledger verification in blocks, on SQLite and PostgreSQL")
struct BlockVerificationTests {
    static let blockSizes = [1, 2, 4, 8, 16, 32]
    /// Larger than the ledger: one block, one pass.
    static let onePass = 128

    /// 69 events in commits of 1, 2, 5, 1, 17, 3 and 40 (tree heads at sizes 1, 3, 8, 9, 26, 29
    /// and 69), every third event with an output payload.
    func ledger(_ backend: StoreBackend) async throws -> (TestStore, any WorkflowStore) {
        let location = try TestStore(backend, label: "blocks")
        let store = try await location.open()
        var total = 0
        for batch in [1, 2, 5, 1, 17, 3, 40] {
            var changes = ChangeSet()
            for _ in 0..<batch {
                changes.events.append(
                    EventDraft(
                        id: "evt_\(total)", time: Date(timeIntervalSince1970: 1_800_000_000), type: "test.event",
                        actor: "test", tenant: "default", subject: "s/\(total)", data: ["n": .number(Number(total))],
                        payloads: total % 3 == 0 ? ["output": ["n": .number(Number(total))]] : [:]))
                total += 1
            }
            try await store.commit(changes)
        }
        return (location, store)
    }

    @Test("an intact ledger gives the same report for every block size", arguments: StoreBackend.allCases)
    func intact(_ backend: StoreBackend) async throws {
        let (location, store) = try await ledger(backend)
        defer { location.remove() }
        for blockSize in Self.blockSizes + [Self.onePass] {
            let report = try await LedgerVerifier(store: store, verifier: nil).verify(blockSize: blockSize)
            #expect(report.problem == nil, "block size \(blockSize)")
            #expect(report.events == 69, "block size \(blockSize)")
            #expect(report.treeHeads == 7, "block size \(blockSize)")
            #expect(report.payloads == 23, "block size \(blockSize)")
        }
    }

    @Test(
        "a change behind UAEF's back is located at the same index, with the same counts, for every block size",
        arguments: [
            ("UPDATE events SET data = replace(data, '40', '41') WHERE seq = 40", "index 40: event changed"),
            ("DELETE FROM events WHERE seq = 33", "index 33: event missing, inserted or reordered"),
            ("DELETE FROM events WHERE seq BETWEEN 16 AND 40", "index 16: event missing, inserted or reordered"),
            ("UPDATE tree_heads SET root = zeroblob(32) WHERE size = 26", "index 25: tree head mismatch"),
            ("DELETE FROM events WHERE seq >= 60", "index 60: event missing, inserted or reordered"),
            (
                "UPDATE events SET payloads = CAST('output' || char(10) || '8' || char(10) || '{\"n\":46}' AS BLOB) WHERE seq = 45",
                "index 45: payload changed"
            ),
        ])
    func tampered(statement: String, expected: String) async throws {
        let (location, store) = try await ledger(.sqlite)
        defer { location.remove() }
        let path = String(location.url.dropFirst("sqlite:".count))
        try await DatabaseQueue(path: path).write { try $0.execute(sql: statement) }
        let verifier = LedgerVerifier(store: store, verifier: nil)
        let reference = try await verifier.verify(blockSize: Self.onePass)
        #expect(reference.problem?.description.hasPrefix(expected) == true, "\(String(describing: reference.problem))")
        for blockSize in Self.blockSizes {
            let report = try await verifier.verify(blockSize: blockSize)
            #expect(report.problem == reference.problem, "block size \(blockSize)")
            #expect(report.events == reference.events, "block size \(blockSize)")
            #expect(report.treeHeads == reference.treeHeads, "block size \(blockSize)")
            #expect(report.payloads == reference.payloads, "block size \(blockSize)")
        }
    }

    @Test(
        "a SQLite store opened with events but no tree head (as before the ledger) gets their leaves and the same root"
    )
    func backfill() async throws {
        let (location, store) = try await ledger(.sqlite)
        defer { location.remove() }
        let head = try await store.treeHead()
        let path = String(location.url.dropFirst("sqlite:".count))
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "DELETE FROM tree_heads; DELETE FROM ledger_nodes; UPDATE events SET leaf_hash = NULL")
        }
        let reopened = try await location.open()
        let filled = try await reopened.treeHead()
        #expect(filled.size == 69 && filled.root == head.root)
        let report = try await LedgerVerifier(store: reopened, verifier: nil).verify()
        #expect(report.problem == nil && report.events == 69 && report.payloads == 23, "\(report)")
    }
}
