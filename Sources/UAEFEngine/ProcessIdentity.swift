import Foundation

/// Who holds a run's lease: `host/pid`, and whether such a holder on this machine still runs.
public enum ProcessIdentity {
    /// This process: `host/pid`.
    public static let current = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"

    /// False only when `owner` names a process on this host that no longer exists; holders on
    /// other hosts are presumed alive until their lease expires.
    public static func isAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: "/")
        guard parts.count == 2, String(parts[0]) == ProcessInfo.processInfo.hostName, let pid = Int32(parts[1]) else {
            return true
        }
        if pid == ProcessInfo.processInfo.processIdentifier { return true }
        guard kill(pid, 0) == 0 || errno != ESRCH else { return false }
        return !isZombie(pid)
    }

    /// A process that exited but was not yet reaped by its parent still answers `kill(pid, 0)`.
    private static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
