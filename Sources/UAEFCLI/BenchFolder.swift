import ArgumentParser
import Foundation
import UAEFEngine

/// A new temporary folder for one benchmark repetition's files (its store, keys), removed by
/// ``remove()``.
struct BenchFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// The store URL of a SQLite file `name` in the folder.
    func sqlite(_ name: String = "bench.db") -> String { "sqlite:" + path(name) }

    /// An engine on a SQLite file `name` in the folder, with `options` (`--max-concurrency N`, say).
    func engine(_ name: String = "bench.db", options: [String] = []) async throws -> Engine {
        try await EngineOptions.parse(["--store", sqlite(name)] + options).engine()
    }

    /// Removes the folder and everything in it.
    func remove() { try? FileManager.default.removeItem(at: url) }
}
