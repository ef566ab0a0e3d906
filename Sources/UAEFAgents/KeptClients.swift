import Synchronization

/// Clients kept by key for the process's life, so their connections (and sessions) serve every
/// attempt that needs them: a few keys at most in practice; beyond ``limit`` the least recently
/// used is shut down.
public final class KeptClients<Key: Hashable & Sendable, Client: Sendable>: Sendable {
    private let cache = Mutex<[Key: (client: Client, used: UInt64)]>([:])
    private let clock = Atomic<UInt64>(0)
    private let shutdown: @Sendable (Client) async -> Void
    public let limit: Int

    /// Keeps up to `limit` clients, shutting each down with `shutdown` when it goes.
    public init(limit: Int = 32, shutdown: @escaping @Sendable (Client) async -> Void) {
        self.limit = limit
        self.shutdown = shutdown
    }

    deinit {
        // A client must be shut down before it goes: the task keeps each alive until it is.
        let clients = cache.withLock { $0.values.map(\.client) }
        let shutdown = shutdown
        Task { for client in clients { await shutdown(client) } }
    }

    /// The client kept for `key`, or one made by `make` and kept.
    public func client(for key: Key, make: () async throws -> Client) async throws -> Client {
        let tick = clock.add(1, ordering: .relaxed).newValue
        if let found = cache.withLock({ cache -> Client? in
            cache[key]?.used = tick
            return cache[key]?.client
        }) {
            return found
        }
        let client = try await make()
        let (kept, dropped) = cache.withLock { cache -> (Client, Client?) in
            if let raced = cache[key] { return (raced.client, client) }
            cache[key] = (client, tick)
            guard cache.count > limit, let oldest = cache.min(by: { $0.value.used < $1.value.used }) else {
                return (client, nil)
            }
            cache[oldest.key] = nil
            return (client, oldest.value.client)
        }
        if let dropped { await shutdown(dropped) }
        return kept
    }
}
