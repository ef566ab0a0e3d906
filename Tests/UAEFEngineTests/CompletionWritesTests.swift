import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFStore
import UAEFTestSupport

@testable import UAEFEngine

/// Writes an attempt hands to its runner (``CompletionWrites``) commit with an accepted end and
/// are dropped with a failed one.
@Suite("Writes committed with an attempt's completion, on SQLite and PostgreSQL")
struct CompletionWritesTests {
    /// Hands over one `test.handed` event for its task, then succeeds or fails as `fail` says.
    struct HandingKind: AgentKind {
        var name: String { "handing" }
        var parameters: WorkflowCatalog.ParameterSpec { .init(optional: ["fail"]) }

        func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
            guard let writes = CompletionWrites.current else {
                throw AgentFailure("no collector: the runner did not set CompletionWrites.current", retryable: false)
            }
            var changes = ChangeSet()
            changes.events = [
                EventDraft(
                    id: "evt_handed_\(request.key)", time: Date(), type: "test.handed", actor: "test",
                    tenant: request.tenant, subject: "\(request.runID.rawValue)/\(request.key)", data: [:])
            ]
            writes.add(changes)
            if request.parameters["fail"] == .bool(true) { throw AgentFailure("failed as asked", retryable: false) }
            return "done"
        }
    }

    @Test(
        "a success's handed writes commit just before its task.succeeded; a failure's are dropped",
        arguments: StoreBackend.allCases)
    func handedWrites(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var kinds = BuiltInAgents.registry
        kinds.register(HandingKind())
        let engine = Engine(
            store: store, kinds: kinds, sections: [], configuration: Runner.Configuration(),
            logger: Logger(label: "test"))
        let workflow = """
            name: handing
            tasks:
              - {id: ok, agent: handing}
              - {id: broken, agent: handing, depends_on: [ok], with: {fail: true}}
            """
        let definition = try await engine.validate(workflow, file: "handing.yaml")
        let id = try await engine.submit(definition, file: "handing.yaml", inputs: [], actor: "test", leased: true)
        #expect(try await engine.execute([id])[id] == .failed)
        let events = try await store.events(from: 1, limit: 1000).filter { $0.event.subject.hasPrefix(id.rawValue) }
        let types = events.map { "\($0.event.type) \($0.event.subject.dropFirst(id.rawValue.count))" }
        let handed = try #require(types.firstIndex(of: "test.handed /ok"), "\(types)")
        #expect(types[handed + 1] == "task.succeeded /ok", "\(types)")
        #expect(!types.contains("test.handed /broken"), "\(types)")
    }

    /// Says whether the attempt it executes in has a collector.
    struct ProbingKind: AgentKind {
        var name: String { "probing" }
        var parameters: WorkflowCatalog.ParameterSpec { .init() }

        func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
            .bool(CompletionWrites.current != nil)
        }
    }

    /// Calls capability `probe` as a tool and returns its output.
    struct CallingKind: AgentKind {
        let invoker: CapabilityInvoker
        var name: String { "calling" }
        var parameters: WorkflowCatalog.ParameterSpec { .init() }

        func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
            try await invoker.invoke("probe", input: [:], for: request, key: "probe", logger: logger).output
        }
    }

    @Test("an attempt a tool call executes inside another has no collector: it commits its own writes")
    func toolCallsCommitThemselves() async throws {
        let location = try TestStore(.sqlite)
        defer { location.remove() }
        let store = try await location.open()
        var kinds = BuiltInAgents.registry
        kinds.register(ProbingKind())
        kinds.register(CallingKind(invoker: CapabilityInvoker(store: store, kinds: kinds)))
        let engine = Engine(
            store: store, kinds: kinds, sections: [], configuration: Runner.Configuration(),
            logger: Logger(label: "test"))
        _ = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
            [AgentSpec(name: "prober", kind: "probing", capabilities: ["probe"], activate: true)], actor: "test")
        let workflow = """
            name: calling
            tasks:
              - {id: direct, agent: probing}
              - {id: call, agent: calling}
            """
        let definition = try await engine.validate(workflow, file: "calling.yaml")
        let id = try await engine.submit(definition, file: "calling.yaml", inputs: [], actor: "test", leased: true)
        #expect(try await engine.execute([id])[id] == .succeeded)
        let tasks = try #require(try await store.snapshot(of: id, tenant: "default")).tasks
        #expect(tasks.first { $0.key == "direct" }?.output == .bool(true), "the runner's own attempt has one")
        #expect(tasks.first { $0.key == "call" }?.output == .bool(false), "the tool call's attempt has none")
    }

    @Test(
        "a handed conversation step whose place another attempt took is left out; its event and the batch commit",
        arguments: StoreBackend.allCases)
    func takenStepLeftOut(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        func step(_ index: Int, event: String) -> (ConversationStep, EventDraft) {
            (
                ConversationStep(
                    tenant: "acme", run: RunID("run_1"), taskKey: "ask", index: index, attempt: 1, kind: .call,
                    agent: "claude", day: "2027-01-15", inputTokens: 1, outputTokens: 1, cacheCreationTokens: 0,
                    cacheReadTokens: 0, costNanos: 0, currency: nil, eventID: event),
                EventDraft(
                    id: event, time: Date(), type: "llm.call", actor: "agent:claude", tenant: "acme",
                    subject: "run_1/ask", data: [:])
            )
        }
        let (first, firstEvent) = step(0, event: "evt_first")
        try await store.recordConversationStep(first, event: firstEvent)
        let (late, lateEvent) = step(0, event: "evt_late")
        var changes = ChangeSet()
        changes.conversationSteps = [late]
        changes.events = [
            lateEvent,
            EventDraft(
                id: "evt_other", time: Date(), type: "test.other", actor: "test", tenant: "acme", subject: "run_2",
                data: [:]),
        ]
        try await Runner.commit(changes, to: store)
        let ids = try await store.events(from: 1, limit: 100).map(\.event.id)
        #expect(ids.contains("evt_late") && ids.contains("evt_other"), "\(ids)")
        let steps = try await store.conversationSteps(tenant: "acme", run: RunID("run_1"), taskKey: "ask")
        #expect(steps.count == 1)
        #expect(steps.first?.eventID == "evt_first")
    }
}
