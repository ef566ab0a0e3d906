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

        public init() {}
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

    /// Executes the tenant's runs from the store until the task is cancelled: claims runs whose
    /// lease is free, expired or held by a dead process on this machine (never waiting on rows
    /// another node is claiming), executes them, and claims more as they end. `report` is awaited
    /// before the worker goes on, so a caller can settle or sign checkpoints between batches.
    public func work(
        _ worker: WorkerConfiguration = .init(), report: @escaping @Sendable (WorkerEvent) async -> Void
    ) async {
        enum Step: Sendable {
            case ended([RunID], Result<[RunID: RunStatus], any Error>)
            case tick
        }
        await withTaskGroup(of: Step.self) { group in
            var running = 0
            var waiting = false
            var failures = 0
            // Claim at once at the start, after a tick and when a batch ends well; after an empty
            // or failed claim, wait for the next tick.
            var claimNow = true
            // Runs of abandoned batches, whose leases this worker still holds: released (so that
            // any worker may claim them) before the next claim.
            var abandoned: [RunID] = []
            while !Task.isCancelled {
                if running < worker.maxRuns && claimNow {
                    claimNow = false
                    do {
                        if !abandoned.isEmpty {
                            try await store.releaseLeases(owner: configuration.owner, runs: abandoned)
                            abandoned = []
                        }
                        let now = Date()
                        let claimed = try await store.claimUnfinishedRuns(
                            tenant: tenant, owner: configuration.owner, now: now,
                            expiresAt: now.addingTimeInterval(Double(configuration.leaseDuration.milliseconds) / 1000),
                            limit: worker.maxRuns - running, isOwnerAlive: ProcessIdentity.isAlive)
                        failures = 0
                        if !claimed.isEmpty {
                            running += claimed.count
                            group.addTask {
                                do {
                                    return .ended(claimed, .success(try await self.execute(claimed)))
                                } catch {
                                    return .ended(claimed, .failure(error))
                                }
                            }
                            claimNow = true
                            continue
                        }
                    } catch {
                        failures += 1
                        await report(.claimFailed(error, retryIn: Self.backoff(failures, worker)))
                    }
                }
                if !waiting {
                    waiting = true
                    let delay = failures == 0 ? worker.claimInterval : Self.backoff(failures, worker)
                    group.addTask {
                        try? await Task.sleep(for: delay)
                        return .tick
                    }
                }
                guard let step = await group.next() else { break }
                switch step {
                case .tick:
                    waiting = false
                    claimNow = true
                case .ended(let runs, let outcome):
                    running -= runs.count
                    switch outcome {
                    case .success(let statuses):
                        claimNow = true
                        await report(.runsEnded(statuses))
                    case .failure(let error):
                        failures += 1
                        abandoned += runs
                        await report(.batchAbandoned(runs, error))
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// The wait after `failures` failures in a row: doubling from the claim interval, capped.
    static func backoff(_ failures: Int, _ worker: WorkerConfiguration) -> Duration {
        let doubled = worker.claimInterval * (1 << min(failures, 16))
        return min(doubled, worker.maxBackoff)
    }
}
