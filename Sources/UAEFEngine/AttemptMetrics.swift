import Metrics
import Synchronization

/// Attempt outcomes and durations, reported through swift-metrics (to whatever backend the process
/// bootstrapped; `uaef serve` exports them at `/metrics`): `uaef_task_attempts_total{kind,outcome}`
/// and `uaef_attempt_duration_seconds{kind}`.
public final class AttemptMetrics: Sendable {
    private let handles = Mutex<[String: (attempts: Counter, duration: Timer)]>([:])

    public init() {}

    func record(kind: String, succeeded: Bool, duration: Duration) {
        let outcome = succeeded ? "succeeded" : "failed"
        let (attempts, timer) = handles.withLock { handles in
            let key = kind + "/" + outcome
            if let existing = handles[key] { return existing }
            let made = (
                Counter(label: "uaef_task_attempts_total", dimensions: [("kind", kind), ("outcome", outcome)]),
                Timer(label: "uaef_attempt_duration_seconds", dimensions: [("kind", kind)])
            )
            handles[key] = made
            return made
        }
        attempts.increment()
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
