import Foundation
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// Connectors of one type as the task kinds that call them need them: found by name in the
/// attempt's tenant, their secrets opened, and one client kept per connector (and version of its
/// settings) for the process's life, so sessions and connections serve every attempt.
struct ConnectorClients<Client: Sendable>: Sendable {
    let kind: ConnectorDefinition.Kind
    let store: any WorkflowStore
    let resolver: SecretResolver
    private let clients: KeptClients<String, Client>
    private let make: @Sendable ([String: JSONValue]) async throws -> Client

    /// Connectors of `kind` on `store`, secrets opened with `secrets`; `make` builds a client
    /// from a connector's resolved settings and `shutdown` ends one.
    init(
        _ kind: ConnectorDefinition.Kind, store: any WorkflowStore, secrets: SecretBox?,
        make: @escaping @Sendable ([String: JSONValue]) async throws -> Client,
        shutdown: @escaping @Sendable (Client) async -> Void
    ) {
        self.kind = kind
        self.store = store
        resolver = SecretResolver(store: store, box: secrets)
        clients = KeptClients(shutdown: shutdown)
        self.make = make
    }

    /// `body`'s output with the client of the connector `request`'s `connector` parameter
    /// names, scrubbed of the connector's secrets (its failure too); `caller` names the kind.
    func using(
        _ request: AttemptRequest, caller: String, _ body: (Client) async throws -> JSONValue
    ) async throws -> JSONValue {
        let name = try ConnectorParameter.name(request.parameters, caller: caller)
        let connector = try await ResolvedConnector.load(
            name, kind: kind, tenant: request.tenant, store: store, resolver: resolver, caller: caller)
        return try await connector.scrubber.scrubbing {
            try await clients.using(connector.cacheKey) {
                try await make(connector.settings)
            } _: { client in
                try await body(client)
            }
        }
    }
}
