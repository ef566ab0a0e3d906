/// How a worker claims and executes work from the store: it claims while it has room, runs each
/// claim in a child task, claims again at once after a claim or a completion and otherwise at
/// each tick, and waits with doubling backoff while claiming (or executing) fails.
struct ClaimLoop: Sendable {
    /// Claimed units (runs, attempts) executing at once.
    var capacity: Int
    /// The wait between claims that found nothing.
    var interval: Duration
    /// The longest wait while failing (the waits double from `interval` up to this).
    var maxBackoff: Duration
    /// Ends a wait early when work may have become claimable elsewhere.
    var wakeups: WakeSignal?

    /// The wait after `failures` failures in a row.
    func backoff(_ failures: Int) -> Duration {
        min(interval * (1 << min(failures, 16)), maxBackoff)
    }

    /// Runs until the task is cancelled. `claim(room)` returns work and how many units it holds
    /// (nil: nothing to claim); `execute` runs one claim in a child task; `ended` is called in the
    /// loop with its outcome and says how many units it freed and whether it went well;
    /// `claimFailed` hears each failed claim and the wait before the next.
    func run<Work: Sendable, Outcome: Sendable>(
        claim: (_ room: Int) async throws -> (work: Work, count: Int)?,
        execute: @escaping @Sendable (Work) async -> Outcome,
        ended: (Outcome) async -> (count: Int, succeeded: Bool),
        claimFailed: (any Error, _ retryIn: Duration) async -> Void
    ) async {
        await withTaskGroup(of: ClaimLoopStep<Outcome>.self) { group in
            var running = 0
            var waiting = false
            var failures = 0
            // Claim at once at the start, after a tick and when work ends well; after an empty
            // or failed claim, wait for the next tick.
            var claimNow = true
            // The wake-ups seen before the last claim: one arriving during it ends the next wait at once.
            var seen: UInt64 = 0
            while !Task.isCancelled {
                if running < capacity && claimNow {
                    claimNow = false
                    seen = wakeups?.generation ?? 0
                    do {
                        let claimed = try await claim(capacity - running)
                        failures = 0
                        if let claimed {
                            running += claimed.count
                            group.addTask { .ended(await execute(claimed.work)) }
                            claimNow = true
                            continue
                        }
                    } catch  where Task.isCancelled {
                        // Stopping, not failing.
                        break
                    } catch {
                        failures += 1
                        await claimFailed(error, backoff(failures))
                    }
                }
                if !waiting {
                    waiting = true
                    let delay = failures == 0 ? interval : backoff(failures)
                    // While failing, only the backoff ends the wait.
                    let wakeups = failures == 0 ? wakeups : nil
                    group.addTask { [seen] in
                        // Whichever comes first: the interval, or word that there is work.
                        if let wakeups {
                            await wakeups.wait(after: seen, atMost: delay)
                        } else {
                            try? await Task.sleep(for: delay)
                        }
                        return .tick
                    }
                }
                guard let step = await group.next() else { break }
                switch step {
                case .tick:
                    waiting = false
                    claimNow = true
                case .ended(let outcome):
                    let (count, succeeded) = await ended(outcome)
                    running -= count
                    if succeeded { claimNow = true } else { failures += 1 }
                }
            }
            group.cancelAll()
        }
    }
}

/// What ends a claim loop's wait: work that ended, or the tick.
private enum ClaimLoopStep<Outcome: Sendable>: Sendable {
    case ended(Outcome)
    case tick
}
