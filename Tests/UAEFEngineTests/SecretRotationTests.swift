import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

@Suite("Master-key rotation, on SQLite and PostgreSQL")
struct SecretRotationTests {
    static func box(_ byte: UInt8) throws -> SecretBox { try SecretBox(key: Array(repeating: byte, count: 32)) }

    func engine(_ store: any WorkflowStore, key: SecretBox, tenant: String = "default") -> Engine {
        var configuration = Runner.Configuration()
        configuration.secrets = key
        return Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], tenant: tenant, configuration: configuration,
            logger: Logger(label: "test"))
    }

    @Test(
        "every tenant's secrets are re-sealed under the new key in one transaction, with an event per tenant; a second run changes nothing",
        arguments: StoreBackend.allCases)
    func rotates(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let (old, new) = (try Self.box(1), try Self.box(2))
        _ = try await engine(store, key: old).setSecret("erp-token", value: "s3cret", actor: "test")
        _ = try await engine(store, key: old, tenant: "acme").setSecret("api", value: "k3y", actor: "test")
        _ = try await engine(store, key: old, tenant: "acme").setSecret("db", value: "pa55", actor: "test")

        let rotation = try await engine(store, key: old).rotateSecrets(to: new, actor: "ops")
        #expect(rotation.resealed == 3 && rotation.alreadyNew == 0)
        #expect(rotation.fromKey == old.keyID && rotation.toKey == new.keyID)
        let secrets = try await store.allSecrets()
        #expect(secrets.map(\.keyID) == Array(repeating: new.keyID, count: 3))
        let values = try secrets.map { try new.open($0.sealed, name: $0.name, tenant: $0.tenant) }
        #expect(values == ["k3y", "pa55", "s3cret"])
        #expect(throws: SecretBox.Failure.self) { try old.open(secrets[0].sealed, name: "api", tenant: "acme") }
        let events = try await store.events(from: 0, limit: 100).filter { $0.event.type == "secrets.rotated" }
        #expect(events.map(\.event.tenant) == ["acme", "default"])
        #expect(events[0].event.data["resealed"] == 2 && events[0].event.data["to_key"] == .string(new.keyID))

        // Run again (an interrupted rotation retried): everything is under the new key already.
        let again = try await engine(store, key: old).rotateSecrets(to: new, actor: "ops")
        #expect(again.resealed == 0 && again.alreadyNew == 3)
    }

    @Test(
        "a secret that opens with neither key, or one set during the rotation, stops it and changes nothing",
        arguments: StoreBackend.allCases)
    func refuses(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let (old, new, other) = (try Self.box(1), try Self.box(2), try Self.box(3))
        _ = try await engine(store, key: old).setSecret("a", value: "1", actor: "test")
        _ = try await engine(store, key: other).setSecret("b", value: "2", actor: "test")
        let before = try await store.allSecrets()
        await #expect(throws: SecretBox.Failure.self) {
            try await engine(store, key: old).rotateSecrets(to: new, actor: "ops")
        }
        #expect(try await store.allSecrets() == before)

        // Read, then changed by someone else, then written: the stale re-seal writes nothing.
        var stale = before[0]
        stale.sealed = try new.seal("1", name: "a", tenant: "default")
        stale.keyID = new.keyID
        _ = try await engine(store, key: old).setSecret("a", value: "changed", actor: "test")
        let current = try await store.allSecrets()
        #expect(try await store.resealSecrets([(before[0], stale)], events: []) == false)
        #expect(try await store.allSecrets() == current)
    }
}
