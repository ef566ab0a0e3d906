import Foundation
import Testing
import UAEFConnectors
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Connector registry, on SQLite and PostgreSQL")
struct ConnectorRegistryTests {
    static let file = """
        connectors:
          - name: erp-events
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}]
          - name: orders-in
            type: sqs
            queue_url: https://sqs.eu-west-1.amazonaws.com/123456789012/orders
            region: eu-west-1
        """

    @Test(
        "applying saves every connector with one event each, replacing keeps the creation time, tenants never see each other's, removing records an event",
        arguments: StoreBackend.allCases)
    func lifecycle(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "connectors")
        defer { location.remove() }
        let store = try await location.open()
        let acme = ConnectorRegistry(store: store, tenant: "acme")
        let (saved, unset) = try await acme.apply(Self.file, file: "connectors.yaml", actor: "cli:admin")
        #expect(saved.map(\.name) == ["erp-events", "orders-in"])
        #expect(unset == ["erp-hook"])
        let first = try #require(try await acme.connector("erp-events"))
        #expect(first.settings["url"] == "https://hooks.example.com/uaef" && first.kind == "webhook")

        let changed = Self.file.replacingOccurrences(of: "hooks.example.com", with: "hooks2.example.com")
        _ = try await acme.apply(changed, file: "connectors.yaml", actor: "cli:other")
        let replaced = try #require(try await acme.connector("erp-events"))
        #expect(replaced.settings["url"] == "https://hooks2.example.com/uaef")
        #expect(replaced.createdAt == first.createdAt && replaced.updatedBy == "cli:other")

        #expect(try await ConnectorRegistry(store: store, tenant: "globex").list().isEmpty)
        #expect(try await ConnectorRegistry(store: store, tenant: "globex").remove("erp-events", actor: "x") == false)
        #expect(try await acme.remove("erp-events", actor: "cli:admin"))
        #expect(try await acme.list().map(\.name) == ["orders-in"])

        let events = try await store.events(in: 0..<1_000, tenant: "acme").map(\.event)
        #expect(
            events.map(\.type) == [
                "connector.saved", "connector.saved", "connector.saved", "connector.saved", "connector.removed",
            ])
        #expect(events.first?.subject == "connector/erp-events")
        #expect(events.first?.data["secrets"] == ["erp-hook"])
        // Settings stay out of the ledger (a URL may carry a token in its query).
        #expect(!events.contains { $0.data.description.contains("hooks.example.com") })
    }

    @Test("an invalid file saves nothing", arguments: StoreBackend.allCases)
    func invalidSavesNothing(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "connectors")
        defer { location.remove() }
        let store = try await location.open()
        let registry = ConnectorRegistry(store: store, tenant: "acme")
        let broken = Self.file + "\n  - {name: bad, type: ftp}\n"
        await #expect(throws: ValidationFailure.self) {
            try await registry.apply(broken, file: "connectors.yaml", actor: "cli:admin")
        }
        #expect(try await registry.list().isEmpty)
        #expect(try await store.events(in: 0..<1_000, tenant: "acme").isEmpty)
    }

    @Test(
        "a tenant has at most 100 connectors: a file that would pass the limit saves nothing; replacing one still works"
    )
    func connectorLimit() async throws {
        let location = try TestStore(.sqlite, label: "connector-limit")
        defer { location.remove() }
        let store = try await location.open()
        let acme = ConnectorRegistry(store: store, tenant: "acme")
        func file(_ names: Range<Int>) -> String {
            "connectors:\n"
                + names.map {
                    "  - {name: c\($0), type: webhook, url: \"https://h.example/\($0)\", secrets: [{$secret: s}]}\n"
                }
                .joined()
        }
        _ = try await acme.apply(file(0..<99), file: "a.yaml", actor: "t")
        await #expect(throws: ValidationFailure.self) {
            try await acme.apply(file(99..<101), file: "b.yaml", actor: "t")
        }
        #expect(try await acme.list().count == 99, "nothing of the refused file was saved")
        _ = try await acme.apply(file(98..<100), file: "c.yaml", actor: "t")
        #expect(try await acme.list().count == 100)
        do {
            _ = try await acme.apply(file(100..<101), file: "d.yaml", actor: "t")
            Issue.record("the 101st connector was saved")
        } catch let failure as ValidationFailure {
            #expect(failure.description.contains("at most 100 connectors"), "\(failure)")
        }
        #expect(
            try await ConnectorRegistry(store: store, tenant: "globex").apply(file(0..<1), file: "e.yaml", actor: "t")
                .connectors.count == 1)
    }
}
