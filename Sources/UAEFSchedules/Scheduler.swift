import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFStore

/// Fires every tenant's due schedules on one store, in `uaef serve` and `uaef worker`: wakes at
/// the earliest next slot (and at least every ``pollInterval``, to see schedules other processes
/// saved), claims the due schedules, and fires them, several at once. Many processes on one
/// PostgreSQL share the work: a schedule is fired by the one process holding its claim.
public struct Scheduler: Sendable {
    let engine: Engine
    let leased: Bool
    let started: @Sendable (Engine.RunStart, Engine) async -> Void
    /// How often to look for schedules saved elsewhere when none is due sooner.
    public var pollInterval: Duration = .seconds(1)
    /// How long a claim lasts: a process that stops mid-firing leaves its schedules to others then.
    public var claimDuration: Duration = .seconds(60)
    /// The most schedules claimed at once, and fired at once.
    public var batch = 256
    public var concurrency = 128

    /// A scheduler over `engine`'s store (its tenants' engines made from it). Runs it starts are
    /// leased to this process with `leased` (then `started` should execute them), otherwise left
    /// to whichever worker claims them; `started` is told of each new run either way.
    public init(
        engine: Engine, leased: Bool, started: @escaping @Sendable (Engine.RunStart, Engine) async -> Void = { _, _ in }
    ) {
        self.engine = engine
        self.leased = leased
        self.started = started
    }

    /// Fires due schedules until cancelled; a store that cannot be reached is retried.
    public func run() async {
        while !Task.isCancelled {
            var pause = pollInterval
            do {
                let now = Date()
                if let earliest = try await engine.store.earliestScheduleSlot() {
                    if earliest <= now {
                        // Claimed elsewhere when none was fired here: wait for that process.
                        if try await fireDue(now: now) > 0 { continue }
                    } else {
                        pause = min(pause, .milliseconds(Int64(earliest.timeIntervalSince(now) * 1000) + 1))
                    }
                }
            } catch  where !Task.isCancelled {
                engine.logger.warning("schedules could not be fired; retrying", metadata: ["error": "\(error)"])
            } catch {
                return
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// Claims the schedules due at `now` (at most ``batch``) and fires them; returns how many it
    /// claimed.
    @discardableResult
    public func fireDue(now: Date) async throws -> Int {
        let owner = engine.configuration.owner
        let claimed = try await engine.store.claimDueSchedules(
            now: now, owner: owner, until: now.addingTimeInterval(claimDuration.timeInterval), limit: batch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, record) in claimed.enumerated() {
                if index >= concurrency { try await group.next() }
                group.addTask {
                    let firing = ScheduleFiring(
                        engine: engine.forTenant(record.tenant), owner: owner, leased: leased, started: started)
                    do {
                        if try await !firing.fire(record, now: now) {
                            engine.logger.info(
                                "a schedule changed while it fired; its new state stands",
                                metadata: ["tenant": "\(record.tenant)", "schedule": "\(record.name)"])
                        }
                    } catch {
                        // Its claim ends and the next pass fires it again: each slot's run is
                        // started once whatever happens (its idempotency key).
                        engine.logger.warning(
                            "a schedule could not be fired; it will be retried",
                            metadata: ["tenant": "\(record.tenant)", "schedule": "\(record.name)", "error": "\(error)"])
                    }
                }
            }
            try await group.waitForAll()
        }
        return claimed.count
    }
}
