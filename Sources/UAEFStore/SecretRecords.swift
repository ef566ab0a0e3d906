import Foundation

/// A tenant's secret as stored: its value sealed (AES-GCM) under a master key the store never sees.
public struct SecretRecord: Sendable, Hashable {
    public var tenant: String
    public var name: String
    /// Base64 of nonce ‖ ciphertext ‖ tag.
    public var sealed: String
    /// Which master key sealed it.
    public var keyID: String
    public var updatedAt: Date
    public var updatedBy: String

    public init(tenant: String, name: String, sealed: String, keyID: String, updatedAt: Date, updatedBy: String) {
        self.tenant = tenant
        self.name = name
        self.sealed = sealed
        self.keyID = keyID
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// Sealed secrets, part of every ``WorkflowStore``. Setting and deleting record an event naming
/// the secret, never its value or a digest of it.
public protocol SecretStore: Sendable {
    /// Sets (or replaces) a secret and appends `event` in the same transaction.
    func saveSecret(_ secret: SecretRecord, event: EventDraft) async throws

    /// The secret, or nil.
    func secret(named name: String, tenant: String) async throws -> SecretRecord?

    /// The tenant's secrets, by name.
    func secrets(tenant: String) async throws -> [SecretRecord]

    /// Deletes a secret and appends `event`; false (and no event) when there was none.
    func deleteSecret(named name: String, tenant: String, event: EventDraft) async throws -> Bool
}
