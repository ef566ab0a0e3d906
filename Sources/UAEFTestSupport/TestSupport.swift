import Foundation
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFStoreSQLite

/// A folder under the system's temporary directory, removed when the value is dropped by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Builders for engine tests.
public enum Fixtures {
    /// A workflow of one echo task greeting its input `who` (default `world`).
    public static let helloWorkflow = """
        name: hello
        inputs:
          who: world
        tasks:
          - id: greet
            agent: echo
            with:
              message: "hello ${{ inputs.who }}"
        """

    /// The built-in kinds' catalog, with the given capabilities registered.
    public static func catalog(capabilities: Set<String> = []) -> WorkflowCatalog {
        BuiltInAgents.registry.catalog(capabilities: capabilities)
    }

    /// Parses a workflow that must be valid.
    public static func workflow(_ text: String, capabilities: Set<String> = []) throws -> WorkflowDefinition {
        try WorkflowParser.parse(text, file: "test.yaml", catalog: catalog(capabilities: capabilities))
    }

    /// A new run record of `definition`.
    public static func run(
        _ definition: WorkflowDefinition, id: String = "run_test",
        at time: Date = Date(timeIntervalSince1970: 1_800_000_000)
    ) -> RunRecord {
        RunRecord(
            id: RunID(id), tenant: "default", workflowName: definition.name, workflowVersion: definition.version,
            workflowSource: definition.source, workflowFile: "test.yaml", inputs: definition.inputs, status: .pending,
            createdAt: time, updatedAt: time)
    }

    /// An active agent.
    public static func agent(
        _ name: String, capabilities: [String], maxConcurrency: Int = 1, status: AgentStatus = .active
    ) -> AgentRecord {
        let time = Date(timeIntervalSince1970: 1_800_000_000)
        return AgentRecord(
            id: AgentID("agt_\(name)"), tenant: "default", name: name, kind: "echo", capabilities: capabilities,
            configuration: [:], maxConcurrency: maxConcurrency, status: status, createdAt: time, updatedAt: time)
    }

    /// The package's root folder (for the built `uaef` binary and the examples).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The `uaef` executable that `swift build` produced for these tests.
    public static var binary: URL {
        if let override = ProcessInfo.processInfo.environment["UAEF_BINARY"] { return URL(fileURLWithPath: override) }
        return packageRoot.appendingPathComponent(".build/debug/uaef")
    }
}

/// Runs the real `uaef` binary and collects what it printed.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Standard output parsed as JSON.
    public func json() throws -> JSONValue { try JSONValue(jsonText: stdout) }
}

public enum UAEFProcess {
    /// Starts `uaef` with `arguments` in `directory` (with `environment` added to this process's);
    /// the caller waits or kills it.
    public static func start(
        _ arguments: [String], in directory: URL, outputTo folder: URL? = nil, environment extra: [String: String] = [:]
    ) throws -> (ChildProcess, URL, URL) {
        let process = ChildProcess()
        process.executableURL = Fixtures.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["UAEF_STORE"] = nil
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let outputFolder = folder ?? directory
        let stdoutURL = outputFolder.appendingPathComponent("stdout-\(UUID().uuidString)")
        let stderrURL = outputFolder.appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdoutURL, stderrURL)
    }

    /// Runs `uaef` to completion.
    public static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws
        -> CommandResult
    {
        let (process, stdoutURL, stderrURL) = try start(arguments, in: directory, environment: environment)
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }
}

/// Runs other programs (Python scripts, tools) from async tests without holding a thread of the
/// cooperative pool while they run: a blocked pool thread (two on a two-core machine) stalls every
/// test in the process.
public enum ExternalProcess {
    /// Runs `arguments` (looked up on PATH) to its end; its exit status and standard output,
    /// with standard error too when `withErrors` (else it goes to the test's).
    public static func run(_ arguments: [String], environment: [String: String]? = nil, withErrors: Bool = false)
        async throws -> (status: Int32, output: String)
    {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = try FileHandle(forWritingTo: outputURL)
        process.standardOutput = output
        if withErrors { process.standardError = output }
        process.standardInput = FileHandle.nullDevice
        let status = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return (status, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }
}
