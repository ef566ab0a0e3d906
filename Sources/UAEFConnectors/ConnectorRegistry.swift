import Foundation
import UAEFCore
import UAEFStore

/// A tenant's connectors: applied from a definitions file, listed, shown and removed. Every
/// change is a ledger event (`connector.saved`, `connector.removed`) naming the connector, its
/// type and the secrets it refers to, never its settings' values.
public struct ConnectorRegistry: Sendable {
    let store: any WorkflowStore
    let tenant: String

    public init(store: any WorkflowStore, tenant: String) {
        self.store = store
        self.tenant = tenant
    }

    /// Validates a `connectors:` file completely, then saves every connector in it in one
    /// transaction (replacing same-named ones). Also returns the secrets the connectors name
    /// that the tenant has not set yet: allowed (a secret may be set afterwards), but worth saying.
    public func apply(_ text: String, file: String, actor: String) async throws -> (
        connectors: [ConnectorRecord], unsetSecrets: [String]
    ) {
        let definitions = try ConnectorParser.parse(text, file: file)
        let now = Date()
        var random = SystemRandomNumberGenerator()
        var records: [ConnectorRecord] = []
        var events: [EventDraft] = []
        for definition in definitions {
            let existing = try await store.connector(named: definition.name, tenant: tenant)
            records.append(
                ConnectorRecord(
                    tenant: tenant, name: definition.name, kind: definition.kind.rawValue,
                    settings: definition.settings, createdAt: existing?.createdAt ?? now, updatedAt: now,
                    updatedBy: actor))
            events.append(
                event(
                    "connector.saved", definition.name, actor: actor, now: now, random: &random,
                    data: [
                        "type": .string(definition.kind.rawValue),
                        "secrets": .array(definition.secretNames.map(JSONValue.string)),
                    ]))
        }
        try await store.saveConnectors(records, events: events)
        let set = Set(try await store.secrets(tenant: tenant).map(\.name))
        let named = Set(definitions.flatMap(\.secretNames))
        return (records, named.subtracting(set).sorted())
    }

    /// The tenant's connectors, by name.
    public func list() async throws -> [ConnectorRecord] { try await store.connectors(tenant: tenant) }

    /// One connector, or nil.
    public func connector(_ name: String) async throws -> ConnectorRecord? {
        try await store.connector(named: name, tenant: tenant)
    }

    /// Removes a connector; false when there was none.
    public func remove(_ name: String, actor: String) async throws -> Bool {
        var random = SystemRandomNumberGenerator()
        let now = Date()
        return try await store.deleteConnector(
            named: name, tenant: tenant,
            event: event("connector.removed", name, actor: actor, now: now, random: &random, data: [:]))
    }

    private func event(
        _ type: String, _ name: String, actor: String, now: Date, random: inout SystemRandomNumberGenerator,
        data: [String: JSONValue]
    ) -> EventDraft {
        EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type, actor: actor,
            tenant: tenant, subject: "connector/\(name)", data: data)
    }
}

/// The JSON shape of a connector, shared by the CLI's `--json` and the HTTP API:
/// `{"name", "type", "settings", "secrets", "created_at", "updated_at", "updated_by"}`.
public enum ConnectorJSON {
    public static func connector(_ record: ConnectorRecord) -> JSONValue {
        let secrets = SecretReference.names(in: .object(record.settings))
        return [
            "name": .string(record.name), "type": .string(record.kind), "settings": .object(record.settings),
            "secrets": .array(secrets.map(JSONValue.string)),
            "created_at": .string(Timestamp.format(record.createdAt)),
            "updated_at": .string(Timestamp.format(record.updatedAt)), "updated_by": .string(record.updatedBy),
        ]
    }
}

extension ConnectorJSON {
    /// A delivery: `{"id", "connector", "event_seq", "event_type", "status", "attempts",
    /// "next_attempt_at", "last_status", "last_error", "created_at", "updated_at"}`.
    public static func delivery(_ record: DeliveryRecord) -> JSONValue {
        [
            "id": .string(record.id), "connector": .string(record.connector),
            "event_seq": .number(Number(Int(record.eventSeq))), "event_type": .string(record.eventType),
            "status": .string(record.status.rawValue), "attempts": .number(Number(record.attempts)),
            "next_attempt_at": record.nextAttemptAt.map { .string(Timestamp.format($0)) } ?? .null,
            "last_status": record.lastStatus.map { .number(Number($0)) } ?? .null,
            "last_error": record.lastError.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.format(record.createdAt)),
            "updated_at": .string(Timestamp.format(record.updatedAt)),
        ]
    }
}
