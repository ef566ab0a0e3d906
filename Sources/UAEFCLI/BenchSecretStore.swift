import ArgumentParser
import Foundation

/// A fresh SQLite store with a master key of its own, in a new temporary folder, for benchmarks
/// whose connectors need sealed secrets.
struct BenchSecretStore {
    let folder: BenchFolder
    /// The engine options that open it: the store and the master key.
    let options: EngineOptions

    init() throws {
        folder = try BenchFolder()
        let keyFile = folder.path("master.key")
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString().write(
            toFile: keyFile, atomically: true, encoding: .utf8)
        options = try EngineOptions.parse(["--store", folder.sqlite(), "--master-key-file", keyFile])
    }

    /// Removes the folder and the store in it.
    func remove() { folder.remove() }
}
