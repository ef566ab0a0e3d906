import Foundation
import UAEFCore

/// A real HTTP server on loopback (a Python script of Tests/Support on http.server), started per
/// test and stopped with ``stop()``. It also exits by itself when this test process is gone.
public final class LoopbackHTTPServer {
    private let process = ChildProcess()
    public let port: Int
    /// The first line the script printed, as JSON: its port alone, or an object with `port`
    /// and what else the test needs (credentials, queue URLs).
    public let announcement: JSONValue

    public init(script: String = "http_test_server.py", arguments: [String] = []) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/\(script)").path] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let announcement = try? JSONValue(jsonText: text),
            let port = announcement.numberValue?.intValue ?? announcement["port"]?.numberValue?.intValue
        else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile)
        }
        self.port = port
        self.announcement = announcement
    }

    /// SIGKILL, so that the script stops whatever it is doing.
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
