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

/// Thrown inside a backend's transaction to roll a re-seal back when a secret changed since it
/// was read; ``SecretStore/resealSecrets(_:events:)`` answers false for it.
public struct SecretChangedMeanwhile: Error {
    public init() {}
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

    /// Every tenant's secrets, by tenant and name: what a master-key rotation re-seals.
    func allSecrets() async throws -> [SecretRecord]

    /// Replaces each secret of `replacements` (matched by tenant and name) with its new record and
    /// appends `events`, in one transaction, as long as every old one is still stored as it was;
    /// otherwise (a secret set or deleted meanwhile) writes nothing and returns false.
    func resealSecrets(_ replacements: [(old: SecretRecord, new: SecretRecord)], events: [EventDraft]) async throws
        -> Bool
}
