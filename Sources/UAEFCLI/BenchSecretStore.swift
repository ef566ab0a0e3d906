import ArgumentParser
import Foundation

/// A fresh SQLite store with a master key of its own, in a new temporary folder, for benchmarks
/// whose connectors need sealed secrets.
struct BenchSecretStore {
    let directory: URL
    /// The engine options that open it: the store and the master key.
    let options: EngineOptions

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("master.key").path
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString().write(
            toFile: keyFile, atomically: true, encoding: .utf8)
        options = try EngineOptions.parse([
            "--store", "sqlite:" + directory.appendingPathComponent("bench.db").path, "--master-key-file", keyFile,
        ])
    }

    /// Removes the folder and the store in it.
    func remove() { try? FileManager.default.removeItem(at: directory) }
}
