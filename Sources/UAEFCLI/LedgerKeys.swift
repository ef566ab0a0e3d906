import ArgumentParser
import Foundation
import UAEFEngine
import UAEFLedger
import UAEFSettlement
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
        if let existing = try read(path) { return existing }
        var random = SystemRandomNumberGenerator()
        let id = try await store.setLedgerInfoIfAbsent(
            "ledger_id", value: String(format: "%016llx", random.next() as UInt64))
        let signer = try NoteSigner(generatingFor: "uaef.local/\(id)")
        // Created exclusively: of processes starting at once, one key wins and the rest read it.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST {
                // Another process created it a moment ago; wait for it to finish writing.
                for _ in 0..<100 {
                    if let winner = try read(path) { return winner }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            throw CLIError.operational("cannot create the ledger key file \(path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data((signer.text + "\n").utf8))
        try handle.synchronize()
        return signer
    }

    /// The signer in the key file at `path`, or nil when there is none (or it is still being written).
    private static func read(_ path: String) throws -> NoteSigner? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try NoteSigner(parsing: text)
        } catch {
            throw CLIError.operational("ledger key \(path): \(error)")
        }
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
