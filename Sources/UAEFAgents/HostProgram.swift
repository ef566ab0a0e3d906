import Foundation
import Subprocess
import Synchronization
import SystemPackage
import UAEFEngine

/// How UAEF starts programs on its host (the `command` kind, an `llm` agent's MCP servers on
/// stdio): each leads a process group of its own, which cancellation ends with SIGTERM and then
/// SIGKILL after two seconds; if this process dies (even by SIGKILL) the program gets SIGKILL (a
/// parent-death signal, through util-linux's `setpriv`); and it inherits none of UAEF's secrets.
public enum HostProgram {
    /// What a program inherits from this process's environment.
    public enum EnvironmentPolicy: Sendable {
        /// Everything but UAEF's own secrets: for the single-user CLI.
        case inherit
        /// Only `PATH`, `HOME`, `LANG`, `LC_ALL`, `LC_CTYPE`, `TZ` and `TMPDIR`: for servers.
        case minimal
    }

    /// Variables a program never inherits.
    static let withheld: Set<String> = ["UAEF_MASTER_KEY", "UAEF_TOKEN_SECRET", "UAEF_STORE", "UAEF_LEDGER_KEY"]
    /// Variables a program inherits under ``EnvironmentPolicy/minimal``.
    static let minimal: Set<String> = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"]
    /// Where `setpriv` is looked for; without it programs run without a parent-death signal.
    static let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The environment a program gets: what `policy` lets it inherit from `parent`, then `extra`.
    public static func environment(
        _ policy: EnvironmentPolicy, parent: [String: String] = ProcessInfo.processInfo.environment,
        adding extra: [String: String]
    ) -> Environment {
        var environment: [Environment.Key: String] = [:]
        for (name, value) in parent where !withheld.contains(name) {
            if policy == .inherit || minimal.contains(name) {
                environment[Environment.Key(stringLiteral: name)] = value
            }
        }
        for (name, value) in extra { environment[Environment.Key(stringLiteral: name)] = value }
        return .custom(environment)
    }

    /// Finds a program by path, or by name on `PATH`; nil when there is none.
    public static func resolve(_ program: String) -> String? {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The executable and arguments that start `executable` with a parent-death signal.
    static func launch(_ executable: String, _ arguments: [String]) -> (executable: Executable, arguments: Arguments) {
        guard let setpriv else { return (.path(FilePath(executable)), Arguments(arguments)) }
        return (.path(FilePath(setpriv)), Arguments(["--pdeathsig", "KILL", "--", executable] + arguments))
    }

    /// A process group of its own, torn down gracefully as a group.
    static var platformOptions: PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        return options
    }

    /// Runs `executable` with `arguments` for as long as `body` talks with it through its standard
    /// input and output (standard error is dropped). When `body` returns, the program's input is
    /// closed and it has `grace` to exit before its group gets SIGKILL; if `body` is cancelled, the
    /// group is ended as the teardown says.
    public static func interact<Result: Sendable>(
        _ executable: String, arguments: [String], environment: Environment, grace: Duration = .seconds(2),
        body: (StandardInputWriter, SubprocessOutputSequence) async throws -> Result
    ) async throws -> Result {
        let (program, arguments) = launch(executable, arguments)
        let watchdog = Mutex<Task<Void, Never>?>(nil)
        // Cancelled once the program has exited, so it never signals a process id reused since.
        defer { watchdog.withLock { $0?.cancel() } }
        // Started from a thread that lives as long as this process (see SpawningThread).
        return try await withTaskExecutorPreference(SpawningThread.shared) {
            try await Subprocess.run(
                program, arguments: arguments, environment: environment, platformOptions: platformOptions,
                input: .inputWriter, output: .sequence, error: .discarded
            ) { execution in
                // Only the start needs the spawning thread; the conversation runs on the pool.
                let result = try await withTaskExecutorPreference(globalConcurrentExecutor) {
                    try await body(execution.standardInputWriter, execution.standardOutput)
                }
                try? await execution.standardInputWriter.finish()
                let group = -execution.processIdentifier.value
                watchdog.withLock {
                    $0 = Task {
                        try? await Task.sleep(for: grace)
                        if !Task.isCancelled { kill(group, SIGKILL) }
                    }
                }
                return result
            }.closureResult
        }
    }
}
