import Synchronization

/// Wakes waiters when something happened elsewhere (a database notification that work became
/// claimable): an event count. A waiter notes ``generation`` before it looks for work and then
/// waits for a signal after that generation, so a signal that arrives while it looks is not lost,
/// however many others wait at the same time.
public final class WakeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many signals there have been.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiter.
    public func signal() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once there has been a signal after generation `seen` (at once when there was one
    /// already), after `limit`, or when the task is cancelled.
    public func wait(after seen: UInt64, atMost limit: Duration) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { try? await Task.sleep(for: limit) }
            race.addTask { await self.wait(after: seen) }
            await race.next()
            race.cancelAll()
        }
    }

    private func wait(after seen: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.generation > seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Signals once per element of `notifications`, until they end or the task is cancelled.
    public func forward(_ notifications: AsyncStream<Void>) async {
        for await _ in notifications { signal() }
    }
}
