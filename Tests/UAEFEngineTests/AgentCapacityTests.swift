import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

@Suite("Tasks waiting for a busy agent, on SQLite and PostgreSQL")
struct AgentCapacityTests {
    @Test(
        "a task waiting for an agent at its max_concurrency starts as soon as an attempt in this process frees it, not at the next poll of the store",
        arguments: StoreBackend.allCases)
    func freedAgentStartsWaitingTask(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var configuration = Runner.Configuration()
        // A poll this slow would make each of the ten waits take ten minutes.
        configuration.pollInterval = .seconds(600)
        let engine = Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
        _ = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
            [
                AgentSpec(
                    name: "one-at-a-time", kind: "sleep", capabilities: ["slow"], maxConcurrency: 1, activate: true)
            ],
            actor: "test")
        let workflow = """
            name: queue
            inputs: {items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
            tasks:
              - id: each
                capability: slow
                for_each: ${{ inputs.items }}
                with: {duration: 20ms}
            """
        let definition = try await engine.validate(workflow, file: "queue.yaml")
        let id = try await engine.submit(definition, file: "queue.yaml", inputs: [], actor: "test", leased: true)
        // Ten 20 ms tasks one after another, however loaded the machine, within two minutes; a
        // wait for the store's poll would take ten.
        let status = try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await engine.execute([id])[id] }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(status == .succeeded, "the ten tasks did not finish within two minutes: they waited for polls")
        let attempts = try #require(try await store.snapshot(of: id, tenant: "default")).attempts
        #expect(attempts.count == 10)
        // One at a time: no two attempts of the agent overlap.
        let spans = attempts.compactMap { attempt in attempt.endedAt.map { (attempt.startedAt, $0) } }.sorted {
            $0.0 < $1.0
        }
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.1 <= $1.0 })
    }
}
