import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func saveSecret(_ secret: SecretRecord, event: EventDraft) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO secrets (tenant, name, sealed, key_id, updated_at, updated_by)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    secret.tenant, secret.name, secret.sealed, secret.keyID, Timestamp.milliseconds(secret.updatedAt),
                    secret.updatedBy,
                ])
            try Self.appendEvents([event], in: db)
        }
    }

    public func secret(named name: String, tenant: String) async throws -> SecretRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM secrets WHERE tenant = ? AND name = ?", arguments: [tenant, name])
                .map(Self.secret)
        }
    }

    public func secrets(tenant: String) async throws -> [SecretRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM secrets WHERE tenant = ? ORDER BY name", arguments: [tenant])
                .map(Self.secret)
        }
    }

    public func deleteSecret(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM secrets WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            guard db.changesCount > 0 else { return false }
            try Self.appendEvents([event], in: db)
            return true
        }
    }

    public func allSecrets() async throws -> [SecretRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM secrets ORDER BY tenant, name").map(Self.secret)
        }
    }

    public func resealSecrets(_ replacements: [(old: SecretRecord, new: SecretRecord)], events: [EventDraft])
        async throws -> Bool
    {
        do {
            return try await pool.write { db in
                for (old, new) in replacements {
                    try db.execute(
                        sql: """
                            UPDATE secrets SET sealed = ?, key_id = ?, updated_at = ?, updated_by = ?
                            WHERE tenant = ? AND name = ? AND sealed = ?
                            """,
                        arguments: [
                            new.sealed, new.keyID, Timestamp.milliseconds(new.updatedAt), new.updatedBy, old.tenant,
                            old.name, old.sealed,
                        ])
                    // Changed since it was read: roll everything back.
                    guard db.changesCount == 1 else { throw SecretChangedMeanwhile() }
                }
                try Self.appendEvents(events, in: db)
                return true
            }
        } catch is SecretChangedMeanwhile {
            return false
        }
    }

    static func secret(_ row: Row) -> SecretRecord {
        SecretRecord(
            tenant: row["tenant"], name: row["name"], sealed: row["sealed"], keyID: row["key_id"],
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]), updatedBy: row["updated_by"])
    }
}
