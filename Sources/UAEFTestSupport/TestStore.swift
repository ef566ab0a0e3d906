import Foundation
import UAEFStore
import UAEFStorePostgres
import UAEFStoreSQLite

/// The store backends every contract test runs against.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }
}

/// An empty store of one backend for one test: a SQLite file in a temporary folder, or a new
/// database on the shared test PostgreSQL server.
public struct TestStore: Sendable {
    public let backend: StoreBackend
    /// The store URL as `--store` takes it.
    public let url: String
    /// A temporary folder for the test's other files (and the SQLite file).
    public let directory: TemporaryDirectory

    public init(_ backend: StoreBackend, label: String = "store") throws {
        self.backend = backend
        directory = try TemporaryDirectory(label)
        switch backend {
        case .sqlite: url = "sqlite:" + directory.path("s.db")
        case .postgres: url = try PostgresTestServer.shared().makeDatabase()
        }
    }

    /// Opens the store (again: a second open sees what the first wrote).
    public func open() async throws -> any WorkflowStore {
        switch backend {
        case .sqlite: try SQLiteStore(path: String(url.dropFirst("sqlite:".count)))
        case .postgres: try await PostgresStore.connect(try PostgresURL(url))
        }
    }

    /// Runs one SQL statement on the store's database outside UAEF, as an operator with a SQL
    /// shell would (`sqlite3` through Python, `psql`); throws with the database's message when it
    /// refuses.
    public func executeOutside(_ sql: String) throws {
        switch backend {
        case .sqlite:
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                String(url.dropFirst("sqlite:".count)), sql,
            ]
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TestServerError(
                    String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
            }
        case .postgres:
            _ = try PostgresTestServer.shared().query(sql, in: url)
        }
    }

    public func remove() { directory.remove() }
}
