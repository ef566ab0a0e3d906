import Synchronization

/// Bounds the child runs (``WorkflowKind``) that one process executes at once, per tenant and
/// depth: a `workflow` attempt takes no execution slot, so without this a fan-out of thousands
/// would start thousands of children together, each with slots of its own; and a tenant whose
/// children wait for days (on approvals) keeps no other tenant's from starting.
///
/// A child of depth *d* waits only for a permit of depth *d*, while it holds one its own
/// children wait for depth *d* + 1, and children of the deepest depth start none, so waiting
/// parents can never hold every permit their children need. Waiters are served first come, first
/// served.
final class ChildRunPermits: Sendable {
    /// Children of one tenant and depth executing at once.
    let capacity: Int

    /// Whose children a pool bounds.
    private struct Level: Hashable {
        var tenant: String
        var depth: Int
    }

    private struct Pool {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private struct State {
        var pools: [Level: Pool] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Runs `body` holding a permit of `tenant` at `depth`, waiting first until one is free;
    /// throws `CancellationError` when cancelled while it waits.
    func withPermit<T: Sendable>(tenant: String, depth: Int, _ body: () async throws -> T) async throws -> T {
        let level = Level(tenant: tenant, depth: depth)
        try await acquire(level)
        defer { release(level) }
        return try await body()
    }

    private func acquire(_ level: Level) async throws {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let granted: Bool? = state.withLock { state in
                    var pool = state.pools[level] ?? Pool(available: capacity)
                    defer { state.pools[level] = pool }
                    if Task.isCancelled { return nil }
                    if pool.available > 0 {
                        pool.available -= 1
                        return true
                    }
                    pool.waiters.append((id, continuation))
                    return false
                }
                switch granted {
                case true?: continuation.resume()
                case nil: continuation.resume(throwing: CancellationError())
                case false?: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.pools[level]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.pools[level]?.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func release(_ level: Level) {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard var pool = state.pools[level] else { return nil }
            guard !pool.waiters.isEmpty else {
                pool.available += 1
                // A level with every permit back is forgotten: tenants come and go.
                state.pools[level] = pool.available == capacity ? nil : pool
                return nil
            }
            let next = pool.waiters.removeFirst().continuation
            state.pools[level] = pool
            return next
        }
        next?.resume()
    }
}
