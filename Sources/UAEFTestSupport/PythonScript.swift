import Foundation

/// The tests' Python scripts (Tests/Support), which drive independent implementations (reference
/// libraries, official SDKs) against UAEF.
public enum PythonScript {
    /// Runs the script `name` with `arguments` to its end, waiting without holding a Swift
    /// concurrency thread (a fake the script talks to may need it); its exit status and what it
    /// printed on standard output and error, trimmed.
    public static func run(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let directory = try TemporaryDirectory("python")
        defer { directory.remove() }
        let path = directory.path("output")
        FileManager.default.createFile(atPath: path, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/\(name)").path] + arguments
        process.standardOutput = output
        process.standardError = output
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try output.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return (process.terminationStatus, text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
