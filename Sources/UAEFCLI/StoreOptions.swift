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
        let parsed = try postgresURL(url)
        return try await retryingWhileUnreachable(waiting: waiting) {
            try await PostgresStore.connect(parsed, migrate: true)
        }
    }

    /// Returns once the store can be opened: at once for SQLite; for PostgreSQL, when the server
    /// answers (waited for as ``open(waiting:)`` does, until cancelled).
    func waitUntilReachable() async throws {
        guard !storeURL.hasPrefix("sqlite:") else { return }
        let parsed = try postgresURL(storeURL)
        try await retryingWhileUnreachable(waiting: true) { try await PostgresStore.probe(parsed) }
    }

    /// Runs `body` with the store the URL names, migrated; for long-running processes. On
    /// PostgreSQL the connection pool runs as a child task of this call for exactly as long as
    /// `body` (see ``PostgresStore/withStore(_:migrate:logger:_:)``); with `waiting`, an
    /// unreachable server is waited for first, as ``open(waiting:)`` does.
    func withStore<Result>(waiting: Bool, _ body: (any WorkflowStore) async throws -> Result) async throws
        -> Result
    {
        guard !storeURL.hasPrefix("sqlite:") else { return try await body(try await open(waiting: waiting)) }
        let parsed = try postgresURL(storeURL)
        do {
            return try await retryingWhileUnreachable(waiting: waiting) {
                try await PostgresStore.withStore(parsed) { store in
                    do {
                        return try await body(store)
                    } catch {
                        // The body's failure ends the scope: never a reason to connect again.
                        throw BodyFailure(error: error)
                    }
                }
            }
        } catch let failure as BodyFailure {
            throw failure.error
        }
    }

    private struct BodyFailure: Error {
        let error: any Error
    }

    /// Runs `attempt`, again with backoff while the PostgreSQL server cannot be reached and
    /// `waiting` is set; its other failures are reported as a store that cannot be opened.
    private func retryingWhileUnreachable<Value>(waiting: Bool, _ attempt: () async throws -> Value) async throws
        -> Value
    {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await attempt()
            } catch let error as PostgresStoreError where error.isUnreachable {
                let failure = "cannot open the PostgreSQL store: \(error)"
                guard waiting else { throw StoreUnreachable(description: failure) }
                Console.warn("\(failure); retrying in \(delay.formatted(.units(allowed: [.seconds, .milliseconds])))")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            } catch let error as PostgresStoreError {
                throw CLIError.operational("cannot open the PostgreSQL store: \(error)")
            }
        }
    }

    /// The URL as a PostgreSQL URL, or a usage error naming what is valid.
    private func postgresURL(_ url: String) throws -> PostgresURL {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw CLIError.usage(
                "--store \(url): unknown store; valid: sqlite:PATH (e.g. sqlite:uaef.db) or postgres://user:password@host:port/database"
            )
        }
        do {
            return try PostgresURL(url)
        } catch {
            throw CLIError.usage(error.description)
        }
    }

    /// The PostgreSQL store at `url`, for commands that manage migrations themselves.
    func openPostgres(_ url: String, migrate: Bool) async throws -> PostgresStore {
        let parsed = try postgresURL(url)
        return try await retryingWhileUnreachable(waiting: false) {
            try await PostgresStore.connect(parsed, migrate: migrate)
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
