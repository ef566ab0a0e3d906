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

    public func remove() { directory.remove() }
}
