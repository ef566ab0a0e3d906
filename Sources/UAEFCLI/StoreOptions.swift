import ArgumentParser
import Foundation
import UAEFCore
import UAEFStore
import UAEFStorePostgres
import UAEFStoreSQLite

/// `--store` and `--tenant`, shared by every command that touches the store.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where state lives: sqlite:PATH or postgres://user:password@host:port/database. Default: $UAEF_STORE, else sqlite:uaef.db.",
            valueName: "url"))
    var store: String?

    @Option(name: .long, help: "The tenant whose runs and agents to use (\(TenantName.pattern)).")
    var tenant: String = "default"

    func validate() throws {
        guard TenantName.isValid(tenant) else {
            throw ValidationError("--tenant \(tenant.prefix(80)): a tenant is \(TenantName.pattern)")
        }
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ledger's checkpoint signing key file (created with mode 0600 on first use). Default: $UAEF_LEDGER_KEY, else <SQLite file>.ledger-key, or <database>.ledger-key in this folder for PostgreSQL.",
            valueName: "path"))
    var ledgerKey: String?

    /// The store URL after flag and environment: flag, then `UAEF_STORE`, then the default.
    var storeURL: String { store ?? ProcessInfo.processInfo.environment["UAEF_STORE"] ?? "sqlite:uaef.db" }

    /// Opens the store the URL names, applying pending migrations. With `waiting`, a PostgreSQL
    /// server that cannot be reached (down, restarting) is tried again with backoff (100 ms doubling
    /// to 5 s, a warning each time) until it answers or the task is cancelled, as long-running
    /// processes (`worker`, `serve`) should; a refused login or a missing database still fails at once.
    func open(waiting: Bool = false) async throws -> any WorkflowStore {
        let url = storeURL
        if url.hasPrefix("sqlite:") {
            let path = try sqlitePath(url)
            do {
                return try SQLiteStore(path: path)
            } catch {
                throw CLIError.operational("cannot open the SQLite store at \(path): \(error)")
            }
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            var delay = Duration.milliseconds(100)
            while true {
                do {
                    return try await openPostgres(url, migrate: true)
                } catch let failure as StoreUnreachable where waiting {
                    Console.warn(
                        "\(failure); retrying in \(delay.formatted(.units(allowed: [.seconds, .milliseconds])))")
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
            }
        }
        throw CLIError.usage(
            "--store \(url): unknown store; valid: sqlite:PATH (e.g. sqlite:uaef.db) or postgres://user:password@host:port/database"
        )
    }

    /// The PostgreSQL store at `url`.
    func openPostgres(_ url: String, migrate: Bool) async throws -> PostgresStore {
        let parsed: PostgresURL
        do {
            parsed = try PostgresURL(url)
        } catch {
            throw CLIError.usage(error.description)
        }
        do {
            return try await PostgresStore.connect(parsed, migrate: migrate)
        } catch let error as PostgresStoreError where error.isUnreachable {
            throw StoreUnreachable(description: "cannot open the PostgreSQL store: \(error)")
        } catch {
            throw CLIError.operational("cannot open the PostgreSQL store: \(error)")
        }
    }

    /// The file of a `sqlite:PATH` URL.
    func sqlitePath(_ url: String) throws -> String {
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        guard !path.isEmpty else {
            throw CLIError.usage("--store \(url): expected sqlite:PATH, e.g. sqlite:uaef.db")
        }
        return path
    }
}

/// The store's server could not be reached (a network failure, or a server starting or shutting
/// down): exit 3 for a one-shot command, a retry for a long-running one.
struct StoreUnreachable: Error, CustomStringConvertible {
    var description: String
}
