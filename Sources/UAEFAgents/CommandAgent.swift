import Foundation
import Logging
import UAEFCore
import UAEFEngine

/// Runs a program: `command` (argv list), optional `env`, `cwd` and `stdin`.
///
/// The output is stdout parsed as JSON when it is JSON, else `{"stdout": …}`. A non-zero exit
/// fails the attempt with the exit code and the tail of stderr. The program also gets
/// `UAEF_RUN_ID`, `UAEF_TASK`, `UAEF_ATTEMPT` and `UAEF_IDEMPOTENCY_KEY` in its environment.
/// Cancellation (timeout, run cancelled) sends SIGTERM, then SIGKILL after two seconds.
public struct CommandAgent: AgentKind {
    /// The most stdout read back (larger output fails the attempt).
    public static let maximumOutputBytes = 16 << 20

    public init() {}
    public var name: String { "command" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["command"], optional: ["env", "cwd", "stdin"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let invocation = try Invocation(request)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdoutURL = directory.appendingPathComponent("stdout")
        let stderrURL = directory.appendingPathComponent("stderr")
        let stdinURL = directory.appendingPathComponent("stdin")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        FileManager.default.createFile(atPath: stdinURL.path, contents: Data(invocation.stdin.utf8))

        let process = Process()
        process.executableURL = invocation.executable
        process.arguments = invocation.arguments
        var environment = ProcessInfo.processInfo.environment.merging(invocation.environment) { _, new in new }
        environment["UAEF_RUN_ID"] = request.runID.rawValue
        environment["UAEF_TASK"] = request.key
        environment["UAEF_ATTEMPT"] = String(request.attempt)
        environment["UAEF_IDEMPOTENCY_KEY"] = request.idempotencyKey
        process.environment = environment
        if let cwd = invocation.directory { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardInput = try FileHandle(forReadingFrom: stdinURL)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)

        let exit = try await ProcessExecution.run(process)
        let stdout = try Data(contentsOf: stdoutURL)
        guard stdout.count <= Self.maximumOutputBytes else {
            throw AgentFailure("command wrote \(stdout.count) bytes to stdout; the limit is \(Self.maximumOutputBytes)")
        }
        guard exit == 0 else {
            let stderr = (try? Data(contentsOf: stderrURL)) ?? Data()
            let tail = String(decoding: stderr.suffix(2000), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            throw AgentFailure("command exited with code \(exit)" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        let text = String(decoding: stdout, as: UTF8.self)
        if let json = try? JSONValue(jsonText: text.trimmingCharacters(in: .whitespacesAndNewlines)) { return json }
        return ["stdout": .string(text)]
    }

    /// The validated parameters of one invocation.
    struct Invocation {
        var executable: URL
        var arguments: [String]
        var environment: [String: String]
        var directory: String?
        var stdin: String

        init(_ request: AttemptRequest) throws {
            let argv = request.parameters["command"]?.arrayValue ?? []
            let strings = argv.compactMap(\.stringValue)
            guard !argv.isEmpty, strings.count == argv.count else {
                throw AgentFailure("command: `command` must be a non-empty list of strings (argv)", retryable: false)
            }
            executable = try Self.resolve(strings[0])
            arguments = Array(strings.dropFirst())
            environment = [:]
            if let env = request.parameters["env"] {
                guard let members = env.objectValue else {
                    throw AgentFailure("command: `env` must be a mapping of names to strings", retryable: false)
                }
                for (key, value) in members { environment[key] = Template.text(of: value) }
            }
            directory = request.parameters["cwd"]?.stringValue
            switch request.parameters["stdin"] {
            case nil, .null?: stdin = ""
            case .string(let text)?: stdin = text
            case let value?: stdin = value.jsonText
            }
        }

        /// Finds a program by path, or by name on `PATH`.
        static func resolve(_ program: String) throws -> URL {
            if program.contains("/") { return URL(fileURLWithPath: program) }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            for directory in path.split(separator: ":") {
                let candidate = "\(directory)/\(program)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
            }
            throw AgentFailure("command: program \"\(program)\" was not found on PATH", retryable: false)
        }
    }
}

/// Waits for a child process, terminating it when the waiting task is cancelled.
enum ProcessExecution {
    static func run(_ process: Process) async throws -> Int32 {
        let exited = AsyncStream<Int32>.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            throw AgentFailure("command could not start: \(error.localizedDescription)", retryable: false)
        }
        let pid = process.processIdentifier
        return try await withTaskCancellationHandler {
            for await status in exited.stream { return status }
            throw CancellationError()
        } onCancel: {
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { kill(pid, SIGKILL) }
        }
    }
}
