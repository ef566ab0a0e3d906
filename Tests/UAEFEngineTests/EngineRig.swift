import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

/// A store of one backend in a test's folder, and an engine on it with the CLI's kinds (`command`
/// runs programs) polling every 50 ms.
struct EngineRig {
    let location: TestStore
    let store: any WorkflowStore
    let engine: Engine

    init(_ backend: StoreBackend) async throws {
        location = try TestStore(backend)
        store = try await location.open()
        var configuration = Runner.Configuration()
        configuration.pollInterval = .milliseconds(50)
        engine = Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
    }

    /// Another engine on the same store, as another process with `maxConcurrency` slots would be.
    func engine(maxConcurrency: Int) -> Engine {
        var configuration = engine.configuration
        configuration.maxConcurrency = maxConcurrency
        return Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
    }

    /// A path in the test's folder.
    func path(_ name: String) -> String { location.directory.path(name) }

    func tasks(_ id: RunID) async throws -> [String: TaskRecord] {
        let snapshot = try #require(try await store.snapshot(of: id, tenant: "default"))
        return Dictionary(uniqueKeysWithValues: snapshot.tasks.map { ($0.key, $0) })
    }

    func record(_ id: RunID) async throws -> RunRecord { try #require(try await store.run(id, tenant: "default")) }

    func events(_ id: RunID) async throws -> [EventDraft] {
        try await store.runEvents(of: id, tenant: "default", from: 0, limit: 1_000).map(\.event)
    }

    /// Waits until `condition` holds, failing after a minute (the whole suite shares two cores).
    func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
