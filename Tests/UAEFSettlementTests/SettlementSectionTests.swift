import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFTestSupport

@Suite("The settlements: section of workflow files")
struct SettlementSectionTests {
    static let workflow = """
        name: billed
        tasks:
          - id: a
            agent: nope
        settlements:
          accounts:
            - {id: ops, type: expense, currency: EUR}
          rules:
            - id: fee
              on: run.succeeded
              amount: {fixed: 1}
              currency: XXX1
              from: ops
              to: ops
        """

    func engine(sections: [any WorkflowSection]) async throws -> (Engine, TestStore) {
        let location = try TestStore(.sqlite, label: "section")
        let engine = Engine(
            store: try await location.open(), kinds: BuiltInAgents.registry, sections: sections,
            logger: Logger(label: "test"))
        return (engine, location)
    }

    @Test("an engine with the settlement section reports the workflow's and the section's problems together")
    func problemsTogether() async throws {
        let (engine, location) = try await engine(sections: [SettlementSection()])
        defer { location.remove() }
        let failure = await #expect(throws: ValidationFailure.self) {
            try await engine.validate(Self.workflow, file: "billed.yaml")
        }
        let messages = failure?.issues.map(\.description) ?? []
        #expect(messages.contains { $0.contains("nope") }, "the unknown agent kind: \(messages)")
        #expect(messages.contains { $0.contains("XXX1") }, "the invalid currency: \(messages)")
    }

    @Test("an engine that no module gave the section refuses it as an unknown key instead of ignoring it")
    func unownedSectionRefused() async throws {
        let (engine, location) = try await engine(sections: [])
        defer { location.remove() }
        let failure = await #expect(throws: ValidationFailure.self) {
            try await engine.validate(Self.workflow, file: "billed.yaml")
        }
        #expect(failure?.issues.contains { $0.description.contains("unknown key 'settlements'") } == true)
    }
}
