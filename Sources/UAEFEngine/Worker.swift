import Foundation
import Logging
import UAEFCore
import UAEFStore

extension Engine {
    /// How a worker paces itself.
    public struct WorkerConfiguration: Sendable {
        /// Runs executed at once (each claimed with a lease, renewed while it runs).
        public var maxRuns: Int = 16
        /// How often the store is asked for claimable runs while there is room for more.
        public var claimInterval: Duration = .milliseconds(100)
        /// Attempts queued for workers (of other processes' runs) executed at once.
        public var maxQueuedAttempts: Int = 16
        /// How often the store is asked for queued attempts while there is room for more.
        public var queueClaimInterval: Duration = .milliseconds(50)
        /// The longest wait between attempts while the store cannot be reached (the waits double
        /// from `claimInterval` up to this).
        public var maxBackoff: Duration = .seconds(5)
        /// Signalled when work may have become claimable (the store's work notifications): the
        /// worker claims at once instead of at its next poll. Nil: it only polls.
        public var wakeups: WakeSignal?

        public init() {}

        /// Wakes on a store's work notifications and then polls only once a second, for what
        /// nobody announces (leases that expired). Returns the task that forwards them, to run
        /// beside the worker; nil (and nothing changed) when the store has none.
        public mutating func wakingUp(on notifications: AsyncStream<Void>?) -> (@Sendable () async -> Void)? {
            guard let notifications else { return nil }
            let wakeups = WakeSignal()
            waking(with: wakeups)
            return { await wakeups.forward(notifications) }
        }

        /// Wakes on `wakeups` (fed by the store's work notifications) and then polls only once a second.
        public mutating func waking(with wakeups: WakeSignal) {
            self.wakeups = wakeups
            claimInterval = .seconds(1)
            queueClaimInterval = .seconds(1)
        }
    }

    /// What a worker reports as it goes.
    public enum WorkerEvent: Sendable {
        /// A batch of claimed runs ended, with each run's status.
        case runsEnded([RunID: RunStatus])
        /// A batch stopped before its runs ended (store unreachable, lease taken over); its runs
        /// are claimed again, by this worker or another.
        case batchAbandoned([RunID], any Error)
        /// Claiming failed; the worker retries after `retryIn`.
        case claimFailed(any Error, retryIn: Duration)
    }

    /// A batch of claimed runs and how executing it went.
    typealias BatchOutcome = ([RunID], Result<[RunID: RunStatus], any Error>)

    /// Executes the tenant's runs from the store until the task is cancelled: claims runs whose
    /// lease is free, expired or held by a dead process on this machine (never waiting on rows
    /// another node is claiming), executes them, and claims more as they end. `report` is awaited
    /// before the worker goes on, so a caller can settle or sign checkpoints between batches.
    public func work(
        _ worker: WorkerConfiguration = .init(), report: @escaping @Sendable (WorkerEvent) async -> Void
    ) async {
        // The runner releases an abandoned batch's leases itself, each at the generation it was
        // claimed at (so that any worker may claim them at once).
        let loop = ClaimLoop(
            capacity: worker.maxRuns, interval: worker.claimInterval, maxBackoff: worker.maxBackoff,
            wakeups: worker.wakeups)
        await loop.run(
            claim: { room in
                let now = Date()
                let claimed = try await store.claimUnfinishedRuns(
                    tenant: tenant, owner: configuration.owner, now: now,
                    expiresAt: now.addingTimeInterval(configuration.leaseDuration.timeInterval),
                    limit: room, isOwnerAlive: ProcessIdentity.isAlive)
                return claimed.isEmpty ? nil : (claimed, claimed.count)
            },
            execute: { (runs: [RunID]) -> BatchOutcome in
                do {
                    return (runs, .success(try await self.execute(runs)))
                } catch {
                    return (runs, .failure(error))
                }
            },
            ended: { (ended: BatchOutcome) in
                let (runs, outcome) = ended
                switch outcome {
                case .success(let statuses):
                    await report(.runsEnded(statuses))
                    return (runs.count, true)
                case .failure(let error):
                    await report(.batchAbandoned(runs, error))
                    return (runs.count, false)
                }
            },
            claimFailed: { error, retryIn in await report(.claimFailed(error, retryIn: retryIn)) })
    }
}
