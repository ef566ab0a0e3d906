import Foundation
import UAEFCore

/// A tenant's connector as stored: its type and settings (credentials as secret references,
/// never values).
public struct ConnectorRecord: Sendable, Hashable {
    public var tenant: String
    public var name: String
    /// `webhook`, `sqs` or `servicebus`.
    public var kind: String
    /// The type's settings, as validated when the connector was saved.
    public var settings: [String: JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    public var updatedBy: String

    public init(
        tenant: String, name: String, kind: String, settings: [String: JSONValue], createdAt: Date, updatedAt: Date,
        updatedBy: String
    ) {
        self.tenant = tenant
        self.name = name
        self.kind = kind
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// Connector definitions, part of every ``WorkflowStore``. Saving and removing record events
/// in the same transaction.
public protocol ConnectorStore: Sendable {
    /// Inserts or replaces each connector (by tenant and name; a replaced one keeps its
    /// `createdAt`) and appends `events`, in one transaction.
    func saveConnectors(_ connectors: [ConnectorRecord], events: [EventDraft]) async throws

    /// The connector, or nil.
    func connector(named name: String, tenant: String) async throws -> ConnectorRecord?

    /// The tenant's connectors, by name.
    func connectors(tenant: String) async throws -> [ConnectorRecord]

    /// Every tenant's connectors of the given types (`sqs`, `servicebus`), by tenant and name:
    /// what a server's consumers look for.
    func connectors(ofKinds kinds: [String]) async throws -> [ConnectorRecord]

    /// Removes a connector and appends `event`; false (and no event) when there was none.
    func deleteConnector(named name: String, tenant: String, event: EventDraft) async throws -> Bool
}
