import Foundation
import Logging
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

/// An engine on a new SQLite store with the connector task kinds, `secrets` sealed and
/// `connectors` applied: what the ERP kinds' tests run workflows on.
struct ConnectorEngine: Sendable {
    let engine: Engine
    let store: any WorkflowStore

    /// Runs `body` with such an engine, removing the store after.
    static func with(
        secrets: [String: String], connectors: String, policy: OutboundPolicy = .unrestricted,
        _ body: (ConnectorEngine) async throws -> Void
    ) async throws {
        let location = try TestStore(.sqlite)
        defer { location.remove() }
        let store = try await location.open()
        let box = try SecretBox(key: Array(repeating: 5, count: 32))
        var kinds = BuiltInAgents.registry
        kinds.registerConnectorKinds(store: store, secrets: box, access: ConnectorAccess(policy: policy))
        var configuration = Runner.Configuration()
        configuration.secrets = box
        let engine = Engine(
            store: store, kinds: kinds, sections: [], configuration: configuration, logger: Logger(label: "test"))
        for (name, value) in secrets { _ = try await engine.setSecret(name, value: value, actor: "test") }
        _ = try await ConnectorRegistry(store: store, tenant: "default").apply(
            connectors, file: "connectors.yaml", actor: "test")
        try await body(ConnectorEngine(engine: engine, store: store))
    }

    /// Runs a workflow whose tasks are `tasks` (YAML list items); the status and the tasks.
    func run(_ tasks: String) async throws -> (status: RunStatus?, tasks: [String: TaskRecord]) {
        let definition = try await engine.validate("name: erp\ntasks:\n" + tasks, file: "erp.yaml")
        let id = try await engine.submit(definition, file: "erp.yaml", inputs: [], actor: "test", leased: true)
        let status = try await engine.execute([id])[id]
        let snapshot = try await store.snapshot(of: id, tenant: "default")
        return (status, Dictionary(uniqueKeysWithValues: (snapshot?.tasks ?? []).map { ($0.key, $0) }))
    }
}
