import Foundation
import UAEFAgents

/// Starts the tests' child processes one at a time, and never while UAEF itself starts a program
/// (``ProcessStarts``): with many tests starting processes at once, Foundation's `Process.run()`
/// on Linux has crashed the test process (a bad read in a `memcpy` inside `Process.run`, signal
/// 11, seen in `.ci/run` on 2026-12-03). The processes still run concurrently.
public enum ProcessLaunch {
    /// `process.run()`, while no other process is being started.
    public static func run(_ process: Process) throws { try ProcessStarts.run(process) }
}
