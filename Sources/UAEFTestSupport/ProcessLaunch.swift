import Foundation
import Synchronization

/// Starts the tests' child processes one at a time. With many tests starting processes at once,
/// Foundation's `Process.run()` on Linux has crashed the test process (a bad read in a `memcpy`
/// inside `Process.run`, signal 11, seen in `.ci/run` on 2026-12-03); starting them in turn
/// costs a few milliseconds and keeps the suite alive. The processes still run concurrently.
public enum ProcessLaunch {
    private static let turn = Mutex(())

    /// `process.run()`, while no other test starts a process.
    public static func run(_ process: Process) throws {
        try turn.withLock { _ in try process.run() }
    }
}
