import Foundation
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func saveConnectors(_ connectors: [ConnectorRecord], events: [EventDraft]) async throws {
        try await transaction { connection in
            for connector in connectors {
                try await connection.query(
                    """
                    INSERT INTO connectors (tenant, name, kind, settings, created_at, updated_at, updated_by)
                    VALUES (\(connector.tenant), \(connector.name), \(connector.kind),
                        \(JSONValue.object(connector.settings).jsonText), \(Timestamp.milliseconds(connector.createdAt)),
                        \(Timestamp.milliseconds(connector.updatedAt)), \(connector.updatedBy))
                    ON CONFLICT (tenant, name) DO UPDATE SET kind = excluded.kind, settings = excluded.settings,
                        updated_at = excluded.updated_at, updated_by = excluded.updated_by
                    """, logger: logger)
            }
            try await PostgresLedger.append(events, on: connection, logger: logger)
        }
    }

    public func connector(named name: String, tenant: String) async throws -> ConnectorRecord? {
        try await rows("SELECT * FROM connectors WHERE tenant = \(tenant) AND name = \(name)", Self.connector).first
    }

    public func connectors(tenant: String) async throws -> [ConnectorRecord] {
        try await rows("SELECT * FROM connectors WHERE tenant = \(tenant) ORDER BY name", Self.connector)
    }

    public func connectors(ofKinds kinds: [String]) async throws -> [ConnectorRecord] {
        try await rows("SELECT * FROM connectors WHERE kind = ANY(\(kinds)) ORDER BY tenant, name", Self.connector)
    }

    public func deleteConnector(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await connection.query(
                "DELETE FROM connectors WHERE tenant = \(tenant) AND name = \(name) RETURNING 1", logger: logger
            ).collect()
            guard !deleted.isEmpty else { return false }
            try await PostgresLedger.append([event], on: connection, logger: logger)
            return true
        }
    }

    static func connector(_ row: PostgresRow) throws -> ConnectorRecord {
        let c = Columns(row, table: "connectors")
        let name: String = try c("name")
        guard case .object(let settings)? = try c.json("settings") else {
            throw StoreCorruption(location: "connectors.settings", reason: "connector \(name): not a JSON object")
        }
        return ConnectorRecord(
            tenant: try c("tenant"), name: name, kind: try c("kind"), settings: settings,
            createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"), updatedBy: try c("updated_by"))
    }
}
