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
        let saved = Set(try await store.connectors(tenant: tenant).map(\.name))
        let total = saved.union(definitions.map(\.name)).count
        guard total <= Self.maximumConnectors else {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: file, line: nil, field: "connectors",
                    message:
                        "a tenant has at most \(Self.maximumConnectors) connectors; with this file tenant \(tenant) would have \(total) (remove some with uaef connectors remove)"
                )
            ])
        }
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
                    data: Self.savedEventData(definition)))
        }
        try await store.saveConnectors(records, events: events)
        let set = Set(try await store.secrets(tenant: tenant).map(\.name))
        let named = Set(definitions.flatMap(\.secretNames))
        return (records, named.subtracting(set).sorted())
    }

    /// What `connector.saved` records: the type and the secrets named, and for a Slack connector
    /// its `approvers` (who may approve from Slack, as whom, in which roles: a grant the ledger
    /// keeps). Other settings stay out, since a URL may carry a token in its query.
    static func savedEventData(_ definition: ConnectorDefinition) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "type": .string(definition.kind.rawValue),
            "secrets": .array(definition.secretNames.map(JSONValue.string)),
        ]
        if definition.kind == .slack, let approvers = definition.settings["approvers"] { data["approvers"] = approvers }
        return data
    }

    /// The most connectors one tenant has: each with a trigger or a subscription is long-lived
    /// work on every server.
    public static let maximumConnectors = 100

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

    /// The tenant's subscription deliveries, newest event first (see ``DeliveryStore``).
    public func deliveries(connector: String?, status: DeliveryStatus?, before: Int64?, limit: Int) async throws
        -> [DeliveryRecord]
    {
        try await store.deliveries(tenant: tenant, connector: connector, status: status, before: before, limit: limit)
    }

    /// The most delivery ids a `deliveries.replayed` event lists (it always has the count).
    public static let maximumListedReplays = 1_000

    /// Gives the connector's dead deliveries (those with `ids`, or all) a fresh set of attempts,
    /// recorded as a `deliveries.replayed` event with their count and ids; their ids.
    public func replayDeliveries(_ connector: String, ids: [String]?, actor: String) async throws -> [String] {
        try await requireSubscription(connector)
        let (tenant, now) = (tenant, Date())
        return try await store.replayDeliveries(tenant: tenant, connector: connector, ids: ids, now: now) { replayed in
            var random = SystemRandomNumberGenerator()
            return EventDraft(
                id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "deliveries.replayed",
                actor: actor, tenant: tenant, subject: "connector/\(connector)",
                data: [
                    "count": .number(Number(replayed.count)),
                    "ids": .array(replayed.prefix(Self.maximumListedReplays).map(JSONValue.string)),
                ])
        }
    }

    /// Resumes a subscription a receiver paused (410 Gone), recorded as a `subscription.resumed`
    /// event; the reason it was paused for, or nil when it was not paused.
    public func resumeSubscription(_ connector: String, actor: String) async throws -> String? {
        try await requireSubscription(connector)
        return try await Self.pause(connector, reason: nil, tenant: tenant, actor: actor, store: store)
    }

    /// Pauses (with `reason`) or resumes (nil) a subscription, recording `subscription.paused`
    /// or `subscription.resumed` when that changes it; the reason it had before.
    static func pause(_ connector: String, reason: String?, tenant: String, actor: String, store: any WorkflowStore)
        async throws -> String?
    {
        var random = SystemRandomNumberGenerator()
        let now = Date()
        let event = EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now,
            type: reason == nil ? "subscription.resumed" : "subscription.paused", actor: actor, tenant: tenant,
            subject: "connector/\(connector)", data: reason.map { ["reason": .string($0)] } ?? [:])
        return try await store.pauseSubscription(tenant: tenant, connector: connector, reason: reason, event: event)
    }

    /// Throws ``DeliveriesError`` unless the tenant has a connector `name` with a subscription.
    private func requireSubscription(_ name: String) async throws {
        guard let record = try await store.connector(named: name, tenant: tenant) else {
            throw DeliveriesError.noConnector(name, tenant: tenant)
        }
        guard record.settings["subscription"] != nil else { throw DeliveriesError.noSubscription(name) }
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

/// Why a connector's deliveries cannot be replayed or its subscription resumed.
public enum DeliveriesError: Error, Sendable, Equatable, CustomStringConvertible {
    case noConnector(String, tenant: String)
    case noSubscription(String)

    public var description: String {
        switch self {
        case .noConnector(let name, let tenant): "no connector \(name) in tenant \(tenant)"
        case .noSubscription(let name): "connector \(name) has no subscription, so it has no deliveries"
        }
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
