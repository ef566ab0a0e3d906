import Foundation

/// This process's CPU time, for benchmarks: a figure of work done that the VM's wandering
/// speed and other tenants' load move far less than throughput.
enum ProcessCPU {
    /// User and system CPU time this process has used so far, in seconds.
    static func seconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }

    /// Waits (up to a minute) until this process is idle: the runs one load started are still
    /// rolled up, settled and checkpointed after it, and would otherwise load the next one.
    static func settle() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = seconds()
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            let now = seconds()
            if now - last < 0.05 { return }
            last = now
        }
    }
}
