import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func saveConnectors(_ connectors: [ConnectorRecord], events: [EventDraft]) async throws {
        try await pool.write { db in
            for connector in connectors {
                try db.execute(
                    sql: """
                        INSERT INTO connectors (tenant, name, kind, settings, created_at, updated_at, updated_by)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (tenant, name) DO UPDATE SET kind = excluded.kind, settings = excluded.settings,
                            updated_at = excluded.updated_at, updated_by = excluded.updated_by
                        """,
                    arguments: [
                        connector.tenant, connector.name, connector.kind, JSONValue.object(connector.settings).jsonText,
                        Timestamp.milliseconds(connector.createdAt), Timestamp.milliseconds(connector.updatedAt),
                        connector.updatedBy,
                    ])
            }
            try Self.appendEvents(events, in: db)
        }
    }

    public func connector(named name: String, tenant: String) async throws -> ConnectorRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM connectors WHERE tenant = ? AND name = ?", arguments: [tenant, name]
            ).map(Self.connector)
        }
    }

    public func connectors(tenant: String) async throws -> [ConnectorRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM connectors WHERE tenant = ? ORDER BY name", arguments: [tenant])
                .map(Self.connector)
        }
    }

    public func connectors(ofKinds kinds: [String]) async throws -> [ConnectorRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT * FROM connectors WHERE kind IN (\(kinds.map { _ in "?" }.joined(separator: ", "))) ORDER BY tenant, name",
                arguments: StatementArguments(kinds)
            ).map(Self.connector)
        }
    }

    public func deleteConnector(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM connectors WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            guard db.changesCount > 0 else { return false }
            try Self.appendEvents([event], in: db)
            return true
        }
    }

    static func connector(_ row: Row) throws -> ConnectorRecord {
        let name: String = row["name"]
        let text: String = row["settings"]
        guard case .object(let settings) = try JSONValue(jsonText: text) else {
            throw StoreCorruption(location: "connectors.settings", reason: "connector \(name): not a JSON object")
        }
        return ConnectorRecord(
            tenant: row["tenant"], name: name, kind: row["kind"], settings: settings,
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]), updatedBy: row["updated_by"])
    }
}
