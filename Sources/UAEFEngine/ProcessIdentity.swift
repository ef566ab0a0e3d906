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
        return kill(pid, 0) == 0 || errno != ESRCH
    }
}
