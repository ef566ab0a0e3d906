import HTTPTypes
import Logging
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

/// Connectors that take requests from outside (webhooks' messages, Slack's buttons) with their
/// secrets opened, each kept for ``lifetime`` so a burst of requests reads and opens it once; a
/// changed connector or secret takes effect within that.
struct InboundConnectors: Sendable {
    /// How long a connector and its opened secrets are used before they are read again.
    static let lifetime = Duration.seconds(1)

    struct Kept: Sendable {
        var connector: ResolvedConnector
        var loadedAt: ContinuousClock.Instant
    }

    private let kept = BoundedCache<Kept>(capacity: 10_000)

    /// The tenant's connector `name` of `kind`, its secrets opened, with what `accept` makes of its
    /// record (asked on every call, before the secrets are opened), or nil when there is no such
    /// connector or `accept` gives nil. A connector whose secrets cannot be opened is a 503 that
    /// tells the sender no more than that it cannot verify `what` (the cause is logged for the
    /// operators).
    func connector<Extra>(
        _ name: String, kind: ConnectorDefinition.Kind, engine: Engine, what: String, logger: Logger,
        accept: (ConnectorRecord) async throws -> Extra?
    ) async throws -> (connector: ResolvedConnector, extra: Extra)? {
        let key = engine.tenant + "\u{0}" + name
        let known = kept.value(for: key).flatMap { ContinuousClock.now - $0.loadedAt < Self.lifetime ? $0 : nil }
        let found: ConnectorRecord?
        if let known {
            found = known.connector.record
        } else {
            found = try await engine.store.connector(named: name, tenant: engine.tenant)
        }
        guard let record = found, record.kind == kind.rawValue else {
            kept.forget(key)
            return nil
        }
        guard let extra = try await accept(record) else { return nil }
        if let known { return (known.connector, extra) }
        do {
            let connector = try await ResolvedConnector.resolve(
                record, kind: kind, resolver: SecretResolver(store: engine.store, box: engine.configuration.secrets),
                caller: kind.rawValue)
            kept.keep(Kept(connector: connector, loadedAt: .now), for: key)
            return (connector, extra)
        } catch let failure as AgentFailure {
            logger.error(
                "\(kind.rawValue) connector cannot verify \(what)",
                metadata: ["connector": "\(record.name)", "tenant": "\(record.tenant)", "error": "\(failure.message)"])
            throw Problem(
                .serviceUnavailable, "connector-unavailable",
                "\(record.name) cannot verify \(what) on this server now; its operators can see why in the server log")
        }
    }
}
