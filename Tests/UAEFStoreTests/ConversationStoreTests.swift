import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Conversation steps of llm tasks, on SQLite and PostgreSQL")
struct ConversationStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func step(
        _ index: Int, run: String = "run_1", task: String = "ask", agent: String = "claude", day: String = "2027-01-15"
    )
        -> (ConversationStep, EventDraft)
    {
        let id = "evt_\(run)_\(task)_\(index)"
        let step = ConversationStep(
            tenant: "acme", run: RunID(run), taskKey: task, index: index, attempt: 1,
            kind: index % 2 == 0 ? .call : .tool,
            agent: agent, day: day, inputTokens: 100, outputTokens: 20, cacheCreationTokens: 3, cacheReadTokens: 7,
            costNanos: 1_500_000, currency: "USD", eventID: id)
        let event = EventDraft(
            id: id, time: now, type: "llm.call", actor: "agent:\(agent)", tenant: "acme", subject: "\(run)/\(task)",
            data: ["step": .number(Number(index))], payloads: ["response": ["text": .string("answer \(index)")]])
        return (step, event)
    }

    @Test(
        "steps come back in order with their events' seqs; a taken index writes nothing, event included",
        arguments: StoreBackend.allCases)
    func steps(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        for index in [0, 1, 2] {
            let (step, event) = step(index)
            try await store.recordConversationStep(step, event: event)
        }
        let size = try await store.treeHead().size
        let (taken, event) = step(1)
        var duplicate = event
        duplicate.id = "evt_other"
        var again = taken
        again.eventID = "evt_other"
        await #expect(throws: ConversationStepTaken.self) {
            try await store.recordConversationStep(again, event: duplicate)
        }
        #expect(try await store.treeHead().size == size)
        let steps = try await store.conversationSteps(tenant: "acme", run: RunID("run_1"), taskKey: "ask")
        #expect(steps.map(\.index) == [0, 1, 2])
        #expect(steps.map(\.kind) == [.call, .tool, .call])
        #expect(steps.first?.costNanos == 1_500_000 && steps.first?.currency == "USD" && steps.first?.tokens == 130)
        let events = try await store.events(in: steps[2].eventSeq..<(steps[2].eventSeq + 1), tenant: "acme")
        #expect(events.first?.event.payloads["response"] == ["text": "answer 2"])
        #expect(try await store.conversationSteps(tenant: "other", run: RunID("run_1"), taskKey: "ask").isEmpty)
    }

    @Test("spending sums a run's steps and an agent's day, within the tenant", arguments: StoreBackend.allCases)
    func spending(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        for (index, run, task, agent, day) in [
            (0, "run_1", "a", "claude", "2027-01-15"), (1, "run_1", "a", "claude", "2027-01-15"),
            (0, "run_1", "b", "gpt", "2027-01-15"), (0, "run_2", "a", "claude", "2027-01-16"),
        ] {
            let (step, event) = step(index, run: run, task: task, agent: agent, day: day)
            try await store.recordConversationStep(step, event: event)
        }
        #expect(
            try await store.conversationSpending(tenant: "acme", run: RunID("run_1"))
                == ConversationSpending(tokens: 390, costNanos: 4_500_000))
        #expect(
            try await store.conversationSpending(tenant: "acme", agent: "claude", day: "2027-01-15")
                == ConversationSpending(tokens: 260, costNanos: 3_000_000))
        #expect(try await store.conversationSpending(tenant: "other", run: RunID("run_1")) == ConversationSpending())
    }
}
