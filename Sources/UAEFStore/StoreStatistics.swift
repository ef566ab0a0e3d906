import Foundation

/// Counts across every tenant of a store, for `/metrics`.
public struct StoreStatistics: Sendable, Hashable {
    /// Runs by status.
    public var runs: [String: Int] = [:]
    /// Task attempts by status (`running`, `succeeded`, `failed`, `interrupted`, …).
    public var attempts: [String: Int] = [:]
    /// Tasks that could run but have not started: ready, waiting for an agent, or scheduled for a retry.
    public var queuedTasks = 0
    /// Unfinished runs whose lease a process holds now.
    public var leasesHeld = 0
    /// Remote tasks waiting for their agent to claim them.
    public var remoteTasksQueued = 0
    /// Settlements by currency and status: how many, and their total in minor units.
    public var settlements: [SettlementTotal] = []

    public init() {}

    public struct SettlementTotal: Sendable, Hashable {
        public var currency: String
        public var status: String
        public var count: Int
        /// Summed as a double (a gauge's type): no tenant's amounts can overflow the sum.
        public var minorUnits: Double

        public init(currency: String, status: String, count: Int, minorUnits: Double) {
            self.currency = currency
            self.status = status
            self.count = count
            self.minorUnits = minorUnits
        }
    }

    /// The SQL both backends run (plain SQL, no parameters but `now` in milliseconds).
    public enum Queries {
        public static let runs = "SELECT status, COUNT(*) FROM runs GROUP BY status"
        public static let attempts = "SELECT status, COUNT(*) FROM attempts GROUP BY status"
        public static let queuedTasks =
            "SELECT COUNT(*) FROM tasks WHERE status IN ('ready', 'waiting', 'retry_scheduled')"
        public static let remoteTasksQueued = "SELECT COUNT(*) FROM remote_tasks WHERE status = 'queued'"
        public static let settlements =
            "SELECT currency, status, COUNT(*), SUM(CAST(amount AS DOUBLE PRECISION)) FROM settlements GROUP BY currency, status"
    }
}
