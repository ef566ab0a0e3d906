import CUAEFSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process for the tests, started with `posix_spawn`: the members of Foundation's
/// `Process` the tests use, without its Linux launch.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) reads `/proc/self/fd` with a 256-byte
/// over-read of each directory entry (swift-corelibs-foundation#5472, fixed after 6.3.1), which
/// crashes a process with many descriptors open (signal 11 in `memcpy` inside `Process.run`), as
/// the test process is when the whole suite runs. This starts children with `posix_spawn`
/// directly: descriptors 0 to 2 as given, every other descriptor closed
/// (`posix_spawn_file_actions_addclosefrom_np`), its own process group, and no signal blocked or
/// ignored (a child started from a Swift concurrency thread would otherwise inherit that thread's
/// blocked signals, SIGTERM included).
public final class ChildProcess: @unchecked Sendable {
    /// How a child ended.
    public enum TerminationReason: Sendable, Equatable {
        case exit, uncaughtSignal
    }

    public var executableURL: URL?
    public var arguments: [String] = []
    /// Nil: this process's environment.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `FileHandle` (``FileHandle/nullDevice`` for `/dev/null`) or a `Pipe`; nil: this process's.
    public var standardInput: Any?
    public var standardOutput: Any?
    public var standardError: Any?
    /// Called once, on a thread of its own, when the child has ended.
    public var terminationHandler: (@Sendable (ChildProcess) -> Void)? {
        get { state.withLock { $0.handler } }
        set { state.withLock { $0.handler = newValue } }
    }

    private struct State {
        var pid: pid_t = 0
        var status: Int32?
        var reason: TerminationReason = .exit
        var handler: (@Sendable (ChildProcess) -> Void)?
    }

    private let state = Mutex(State())
    private let ended = NSCondition()

    public init() {}

    /// Why a child could not be started.
    public struct LaunchError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts the child; throws when `posix_spawn` refuses (no such executable, …).
    public func run() throws {
        guard let path = executableURL?.path else { throw LaunchError(description: "no executableURL") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [FileHandle] = []
        for (target, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case let pipe as Pipe:
                let end = target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, end.fileDescriptor, target)
                parentEnds.append(end)
            case let handle as FileHandle where handle === FileHandle.nullDevice || handle.fileDescriptor < 0:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case let handle as FileHandle:
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            default:
                break
            }
        }
        uaef_spawn_file_actions_addclosefrom(&actions, 3)
        if let directory = currentDirectoryURL?.path {
            uaef_spawn_file_actions_addchdir(&actions, directory)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let variables =
            (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
            + [nil]
        defer { for variable in variables { free(variable) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, variables)
        guard result == 0 else {
            throw LaunchError(description: "\(path) could not be started: \(String(cString: strerror(result)))")
        }
        // The child holds its own copies of the pipes' ends now.
        for end in parentEnds { try? end.close() }
        state.withLock { $0.pid = pid }
        let child = pid
        let reaper = Thread { [self] in self.reap(child) }
        reaper.name = "child-\(child)"
        reaper.start()
    }

    private func reap(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7F
        let handler = state.withLock { state -> (@Sendable (ChildProcess) -> Void)? in
            state.status = signal == 0 ? (status >> 8) & 0xFF : signal
            state.reason = signal == 0 ? .exit : .uncaughtSignal
            return state.handler
        }
        ended.lock()
        ended.broadcast()
        ended.unlock()
        handler?(self)
    }

    public var processIdentifier: Int32 { state.withLock { $0.pid } }

    public var isRunning: Bool { state.withLock { $0.pid != 0 && $0.status == nil } }

    /// The exit status, or the signal that ended the child; 0 before it ended.
    public var terminationStatus: Int32 { state.withLock { $0.status ?? 0 } }

    public var terminationReason: TerminationReason { state.withLock { $0.reason } }

    /// SIGTERM, while the child runs.
    public func terminate() {
        let pid = state.withLock { $0.status == nil ? $0.pid : 0 }
        if pid > 0 { kill(pid, SIGTERM) }
    }

    /// Starts `executable` with `arguments`, its standard streams this process's.
    public static func run(_ executable: URL, arguments: [String]) throws -> ChildProcess {
        let child = ChildProcess()
        child.executableURL = executable
        child.arguments = arguments
        try child.run()
        return child
    }

    /// Blocks until the child has ended.
    public func waitUntilExit() {
        ended.lock()
        defer { ended.unlock() }
        while state.withLock({ $0.pid != 0 && $0.status == nil }) { ended.wait() }
    }
}
