import Foundation
import Logging
import Subprocess
import SystemPackage
import UAEFCore
import UAEFEngine

/// Runs a program: `command` (argv list), optional `env`, `cwd` and `stdin`.
///
/// The output is stdout parsed as JSON when it is JSON, else `{"stdout": …}`. A non-zero exit
/// fails the attempt with the exit code and the tail of stderr. The program also gets
/// `UAEF_RUN_ID`, `UAEF_TASK`, `UAEF_ATTEMPT` and `UAEF_IDEMPOTENCY_KEY` in its environment.
/// Cancellation (timeout, run cancelled) sends SIGTERM, then SIGKILL after two seconds. The
/// program starts with default signal handling and nothing blocked, whatever this process's
/// threads have blocked.
public struct CommandAgent: AgentKind {
    /// The most stdout, and the most stderr, read back (more fails the attempt).
    public static let maximumOutputBytes = 16 << 20

    public init() {}
    public var name: String { "command" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["command"], optional: ["env", "cwd", "stdin"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let invocation = try Invocation(request)
        var environment: [Environment.Key: String?] = [:]
        for (name, value) in invocation.environment { environment[Environment.Key(stringLiteral: name)] = value }
        environment["UAEF_RUN_ID"] = request.runID.rawValue
        environment["UAEF_TASK"] = request.key
        environment["UAEF_ATTEMPT"] = String(request.attempt)
        environment["UAEF_IDEMPOTENCY_KEY"] = request.idempotencyKey
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
        let result: ExecutionResult<Void, BytesOutput, BytesOutput>
        do {
            result = try await Subprocess.run(
                invocation.executable, arguments: Arguments(invocation.arguments),
                environment: .inherit.updating(environment),
                workingDirectory: invocation.directory.map { FilePath($0) }, platformOptions: options,
                input: .string(invocation.stdin), output: .bytes(limit: Self.maximumOutputBytes),
                error: .bytes(limit: Self.maximumOutputBytes))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentFailure("command \(invocation.program) could not run: \(error)")
        }
        guard case .exited(let code) = result.terminationStatus, code == 0 else {
            let tail = String(decoding: result.standardError.suffix(2000), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let how: String
            switch result.terminationStatus {
            case .exited(let code): how = "exited with code \(code)"
            case .signaled(let signal): how = "was killed by signal \(signal)"
            }
            throw AgentFailure("command \(how)" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        let text = String(decoding: result.standardOutput, as: UTF8.self)
        if let json = try? JSONValue(jsonText: text.trimmingCharacters(in: .whitespacesAndNewlines)) { return json }
        return ["stdout": .string(text)]
    }

    /// The validated parameters of one invocation.
    struct Invocation {
        var program: String
        var executable: Executable
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
            program = strings[0]
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

        /// Finds a program by path, or by name on `PATH`, so a missing one fails without retry.
        static func resolve(_ program: String) throws -> Executable {
            if program.contains("/") { return .path(FilePath(program)) }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            for directory in path.split(separator: ":") {
                let candidate = "\(directory)/\(program)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return .path(FilePath(candidate)) }
            }
            throw AgentFailure("command: program \"\(program)\" was not found on PATH", retryable: false)
        }
    }
}
