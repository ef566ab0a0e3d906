import Foundation
import Synchronization

/// A task executor with one thread of its own that never ends, on which `command` starts its
/// programs.
///
/// Linux delivers a parent-death signal (`PR_SET_PDEATHSIG`, set by `setpriv --pdeathsig`) when the
/// *thread* that started the child ends, and Swift's pool threads end after a few idle seconds;
/// started from this thread, a program is signalled only when the whole process dies.
final class SpawningThread: TaskExecutor, @unchecked Sendable {
    /// The one thread `command` starts programs from.
    static let shared = SpawningThread()

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "uaef-spawn"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            // A job holds the start lock until it suspends: the program it starts is started
            // while no Foundation `Process` is (see ProcessStarts).
            for job in batch { ProcessStarts.lock.withLock { _ in job.runSynchronously(on: asUnownedTaskExecutor()) } }
        }
    }
}

/// Child processes are started one at a time in this process. Foundation's `Process.run()` on
/// Linux has crashed the test process (signal 11 in a `memcpy` inside it) when other processes
/// were being started at the same moment; programs started through ``SpawningThread`` and every
/// `Process` started through ``run(_:)`` take this lock, which costs a few milliseconds per start.
public enum ProcessStarts {
    static let lock = Mutex(())

    /// `process.run()`, while no other process is being started.
    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
