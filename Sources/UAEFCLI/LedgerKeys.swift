import ArgumentParser
import Foundation
import UAEFEngine
import UAEFLedger
import UAEFStore
import UAEFStorePostgres

/// The ledger's signing key file: found or created, never printed.
enum LedgerKeys {
    /// The key file path after flag, environment and default (beside the SQLite file, or
    /// `<database>.ledger-key` in the working folder for PostgreSQL).
    static func path(_ options: StoreOptions) throws -> String {
        if let path = options.ledgerKey { return path }
        if let path = ProcessInfo.processInfo.environment["UAEF_LEDGER_KEY"] { return path }
        let url = options.storeURL
        if url.hasPrefix("sqlite:") { return try options.sqlitePath(url) + ".ledger-key" }
        // Every node of a PostgreSQL deployment must sign with the same key: docs/deploying.md
        // says to point UAEF_LEDGER_KEY at one shared file.
        guard let database = try? PostgresURL(url).database else {
            throw CLIError.usage("give --ledger-key PATH for the store \(url)")
        }
        return database + ".ledger-key"
    }

    /// The signer, created on first use (mode 0600) with the origin `uaef.local/<ledger id>` as its name.
    static func signer(_ options: StoreOptions, store: any LedgerStore) async throws -> NoteSigner {
        let path = try path(options)
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                return try NoteSigner(parsing: text)
            } catch {
                throw CLIError.operational("ledger key \(path): \(error)")
            }
        }
        var random = SystemRandomNumberGenerator()
        let id = try await store.setLedgerInfoIfAbsent(
            "ledger_id", value: String(format: "%016llx", random.next() as UInt64))
        let signer = try NoteSigner(generatingFor: "uaef.local/\(id)")
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((signer.text + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else { throw CLIError.operational("cannot create the ledger key file \(path)") }
        return signer
    }

    /// The verifier key, when a key file exists.
    static func verifier(_ options: StoreOptions, store: any LedgerStore) async throws -> NoteVerifier? {
        guard FileManager.default.fileExists(atPath: try path(options)) else { return nil }
        return try await signer(options, store: store).verifier
    }

    /// What `run`, `resume` and `demo` do when runs end: settle their outcomes by the active
    /// rules, then sign a checkpoint that covers the settlements too.
    @discardableResult
    static func settleAndCheckpoint(_ engine: Engine, _ options: StoreOptions) async throws -> SettlementReport {
        let report = try await engine.settle()
        try await checkpoint(after: "the runs ended", options, store: engine.store)
        return report
    }

    /// Signs a checkpoint of the tree as it is now: what `run`, `resume` and `demo` do when runs
    /// end, and `ledger redact` after recording a redaction. `done` says what happened, for the
    /// message when signing is refused.
    static func checkpoint(after done: String, _ options: StoreOptions, store: any WorkflowStore) async throws {
        let signer = try await signer(options, store: store)
        do {
            _ = try await Checkpointer(store: store, signer: signer).checkpoint()
        } catch let refusal as Checkpointer.Refusal {
            throw CLIError.operational("\(done) but no checkpoint was signed: \(refusal); run uaef ledger verify")
        }
    }
}
