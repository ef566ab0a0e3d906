import ArgumentParser
import UAEFCore
import UAEFStorePostgres
import UAEFStoreSQLite

/// `uaef migrate`: brings a store's schema up to this build's version.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the store's pending schema migrations.",
        discussion: """
            Every command migrates the store it opens, so this is for deployments that migrate once \
            before starting nodes. Idempotent, and safe when several nodes run it at once: on \
            PostgreSQL the migrations apply in one transaction under an advisory lock.
            """)

    @OptionGroup var storeOptions: StoreOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        let url = storeOptions.storeURL
        let applied: [String]
        let location: String
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let store = try await storeOptions.openPostgres(url, migrate: false)
            do {
                applied = try await store.migrate()
                await store.close()
            } catch {
                await store.close()
                throw CLIError.operational("cannot migrate \(store.location): \(error)")
            }
            location = store.location
        } else {
            guard let store = try await storeOptions.open() as? SQLiteStore else {
                throw CLIError.usage("--store \(url): not a store uaef can migrate")
            }
            applied = store.appliedMigrations
            location = "sqlite:" + store.path
        }
        if json {
            Console.printJSON(["store": .string(location), "applied": .array(applied.map(JSONValue.string))])
        } else if applied.isEmpty {
            print("\(location) is up to date")
        } else {
            print("\(location): applied \(applied.joined(separator: ", "))")
        }
    }
}
