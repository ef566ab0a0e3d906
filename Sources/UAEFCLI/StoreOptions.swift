import ArgumentParser
import Foundation
import UAEFCore
import UAEFStore
import UAEFStoreSQLite

/// `--store` and `--tenant`, shared by every command that touches the store.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where state lives: sqlite:PATH. Default: $UAEF_STORE, else sqlite:uaef.db.", valueName: "url"))
    var store: String?

    @Option(name: .long, help: "The tenant whose runs and agents to use.")
    var tenant: String = "default"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ledger's checkpoint signing key file (created with mode 0600 on first use). Default: $UAEF_LEDGER_KEY, else <SQLite file>.ledger-key.",
            valueName: "path"))
    var ledgerKey: String?

    /// The store URL after flag and environment: flag, then `UAEF_STORE`, then the default.
    var storeURL: String { store ?? ProcessInfo.processInfo.environment["UAEF_STORE"] ?? "sqlite:uaef.db" }

    /// Opens the store the URL names.
    func open() throws -> any WorkflowStore {
        let url = storeURL
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw CLIError.usage("--store \(url): expected sqlite:PATH, e.g. sqlite:uaef.db")
            }
            do {
                return try SQLiteStore(path: path)
            } catch {
                throw CLIError.operational("cannot open the SQLite store at \(path): \(error)")
            }
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            throw CLIError.operational("the PostgreSQL store is not built yet; use sqlite:PATH for now")
        }
        throw CLIError.usage("--store \(url): unknown store; valid: sqlite:PATH (e.g. sqlite:uaef.db)")
    }
}
