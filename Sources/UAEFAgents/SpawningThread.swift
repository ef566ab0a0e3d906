import Foundation

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
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
