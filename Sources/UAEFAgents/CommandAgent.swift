import Foundation
import Logging
import Subprocess
import SystemPackage
import UAEFCore
import UAEFEngine

/// Runs a program: `command` (argv list), optional `env`, `cwd` and `stdin`.
///
/// The output is stdout parsed as JSON when it is JSON, else `{"stdout": …}`. A non-zero exit
/// fails the attempt with the exit code and the tail of stderr. The program gets the
/// environment its ``EnvironmentPolicy`` allows, `env`, and `UAEF_RUN_ID`, `UAEF_TASK`,
/// `UAEF_ATTEMPT` and `UAEF_IDEMPOTENCY_KEY`; never this process's secrets (``withheld``).
///
/// The program leads a process group of its own. Cancellation (timeout, run cancelled) sends
/// SIGTERM to the group, then SIGKILL after two seconds; if this process dies (even by SIGKILL),
/// the program gets SIGKILL (a parent-death signal, through util-linux's `setpriv`), so a
/// crashed runner's retry does not race a program still running. The program starts with
/// default signal handling and nothing blocked, whatever this process's threads have blocked.
public struct CommandAgent: AgentKind {
    /// The most stdout, and the most stderr, read back (more fails the attempt).
    public static let maximumOutputBytes = 16 << 20

    public typealias EnvironmentPolicy = HostProgram.EnvironmentPolicy

    /// What the programs it starts inherit from this process's environment.
    public let environmentPolicy: EnvironmentPolicy
    /// The environment programs inherit from (this process's, unless a test gives another).
    private let parentEnvironment: [String: String]

    public init(
        environment: EnvironmentPolicy = .inherit,
        parentEnvironment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        environmentPolicy = environment
        self.parentEnvironment = parentEnvironment
    }
    public var name: String { "command" }
    public var actsOnHost: Bool { true }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["command"], optional: ["env", "cwd", "stdin"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let invocation = try Invocation(request)
        var variables = invocation.environment
        variables["UAEF_RUN_ID"] = request.runID.rawValue
        variables["UAEF_TASK"] = request.key
        variables["UAEF_ATTEMPT"] = String(request.attempt)
        variables["UAEF_IDEMPOTENCY_KEY"] = request.idempotencyKey
        let environment = HostProgram.environment(environmentPolicy, parent: parentEnvironment, adding: variables)
        let (executable, arguments) = HostProgram.launch(invocation.executable, invocation.arguments)
        let result: ExecutionResult<Void, BytesOutput, BytesOutput>
        do {
            // Started from a thread that lives as long as this process (see SpawningThread).
            result = try await withTaskExecutorPreference(SpawningThread.shared) {
                try await Subprocess.run(
                    executable, arguments: arguments, environment: environment,
                    workingDirectory: invocation.directory.map { FilePath($0) },
                    platformOptions: HostProgram.platformOptions,
                    input: .string(invocation.stdin), output: .bytes(limit: Self.maximumOutputBytes),
                    error: .bytes(limit: Self.maximumOutputBytes))
            }
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
        /// The program's path.
        var executable: String
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
        static func resolve(_ program: String) throws -> String {
            guard let path = HostProgram.resolve(program) else {
                throw AgentFailure("command: program \"\(program)\" was not found on PATH", retryable: false)
            }
            return path
        }
    }
}
