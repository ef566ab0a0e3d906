import Crypto
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// A connector found by name and kind, with its secrets opened: what a connector task kind
/// needs before it reaches the other system.
public struct ResolvedConnector: Sendable {
    public var record: ConnectorRecord
    /// The settings with every `{"$secret": NAME}` replaced by the secret's value.
    public var settings: [String: JSONValue]
    /// The secrets opened, so errors and outputs can be scrubbed of their values.
    public var scrubber: SecretScrubber

    /// The tenant, the name and a digest of the resolved settings: what a client kept for the
    /// connector is kept under, so a changed password or URL gets a new one.
    public var cacheKey: String {
        let digest = SHA256.hash(data: Data(JSONValue.object(settings).jsonText.utf8))
        return "\(record.tenant)\u{0}\(record.name)\u{0}" + digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The tenant's connector `name` of `kind`, resolved with `resolver`; a missing connector,
    /// another type or an unset secret fails without retrying, named by `caller`.
    public static func load(
        _ name: String, kind: ConnectorDefinition.Kind, tenant: String, store: any WorkflowStore,
        resolver: SecretResolver, caller: String
    ) async throws -> ResolvedConnector {
        guard let record = try await store.connector(named: name, tenant: tenant) else {
            throw AgentFailure(
                "\(caller): no connector \(name) in tenant \(tenant) (uaef connectors apply)", retryable: false)
        }
        return try await resolve(record, kind: kind, resolver: resolver, caller: caller)
    }

    /// `record`'s settings with its secrets opened, when it is of `kind`.
    public static func resolve(
        _ record: ConnectorRecord, kind: ConnectorDefinition.Kind, resolver: SecretResolver, caller: String
    ) async throws -> ResolvedConnector {
        guard record.kind == kind.rawValue else {
            throw AgentFailure(
                "\(caller): connector \(record.name) is a \(record.kind) connector, not \(kind.rawValue)",
                retryable: false)
        }
        var used: [(name: String, value: String)] = []
        let settings = try await resolver.resolve(.object(record.settings), tenant: record.tenant, used: &used)
        return ResolvedConnector(record: record, settings: settings.objectValue ?? [:], scrubber: SecretScrubber(used))
    }
}

/// The checked `connector` parameter of a connector task kind.
enum ConnectorParameter {
    static func name(_ parameters: [String: JSONValue], caller: String) throws -> String {
        guard let name = parameters["connector"]?.stringValue, ConnectorDefinition.isValidName(name) else {
            throw AgentFailure("\(caller): `connector` must name a connector", retryable: false)
        }
        return name
    }
}

/// What a connector task kind needs to reach its connector: the store the tenants' connectors are
/// in, their secrets' resolver and the server's outbound policy.
struct ConnectorLookup: Sendable {
    let store: any WorkflowStore
    let resolver: SecretResolver
    let policy: OutboundPolicy

    init(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy) {
        self.store = store
        resolver = SecretResolver(store: store, box: secrets)
        self.policy = policy
    }

    /// The connector of `kind` that `request`'s `connector` parameter names, its secrets opened;
    /// `caller` names the kind in errors.
    func connector(of request: AttemptRequest, kind: ConnectorDefinition.Kind, caller: String) async throws
        -> ResolvedConnector
    {
        try await ResolvedConnector.load(
            try ConnectorParameter.name(request.parameters, caller: caller), kind: kind, tenant: request.tenant,
            store: store, resolver: resolver, caller: caller)
    }
}
