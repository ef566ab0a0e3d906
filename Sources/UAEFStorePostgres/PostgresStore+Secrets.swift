import Foundation
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func saveSecret(_ secret: SecretRecord, event: EventDraft) async throws {
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO secrets (tenant, name, sealed, key_id, updated_at, updated_by)
                VALUES (\(secret.tenant), \(secret.name), \(secret.sealed), \(secret.keyID),
                    \(Timestamp.milliseconds(secret.updatedAt)), \(secret.updatedBy))
                ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """, logger: logger)
            try await PostgresLedger.append([event], on: connection, logger: logger)
        }
    }

    public func secret(named name: String, tenant: String) async throws -> SecretRecord? {
        try await rows("SELECT * FROM secrets WHERE tenant = \(tenant) AND name = \(name)", Self.secret).first
    }

    public func secrets(tenant: String) async throws -> [SecretRecord] {
        try await rows("SELECT * FROM secrets WHERE tenant = \(tenant) ORDER BY name", Self.secret)
    }

    public func deleteSecret(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await connection.query(
                "DELETE FROM secrets WHERE tenant = \(tenant) AND name = \(name) RETURNING 1", logger: logger
            ).collect()
            guard !deleted.isEmpty else { return false }
            try await PostgresLedger.append([event], on: connection, logger: logger)
            return true
        }
    }

    public func allSecrets() async throws -> [SecretRecord] {
        try await rows("SELECT * FROM secrets ORDER BY tenant, name", Self.secret)
    }

    public func resealSecrets(_ replacements: [(old: SecretRecord, new: SecretRecord)], events: [EventDraft])
        async throws -> Bool
    {
        do {
            return try await transaction { connection in
                for (old, new) in replacements {
                    let updated = try await connection.query(
                        """
                        UPDATE secrets SET sealed = \(new.sealed), key_id = \(new.keyID),
                            updated_at = \(Timestamp.milliseconds(new.updatedAt)), updated_by = \(new.updatedBy)
                        WHERE tenant = \(old.tenant) AND name = \(old.name) AND sealed = \(old.sealed)
                        RETURNING 1
                        """, logger: logger
                    ).collect()
                    // Changed since it was read: roll everything back.
                    guard updated.count == 1 else { throw SecretChangedMeanwhile() }
                }
                try await PostgresLedger.append(events, on: connection, logger: logger)
                return true
            }
        } catch is SecretChangedMeanwhile {
            return false
        }
    }

    static func secret(_ row: PostgresRow) throws -> SecretRecord {
        let c = Columns(row, table: "secrets")
        return SecretRecord(
            tenant: try c("tenant"), name: try c("name"), sealed: try c("sealed"), keyID: try c("key_id"),
            updatedAt: try c.date("updated_at"), updatedBy: try c("updated_by"))
    }
}
