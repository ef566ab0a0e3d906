import Synchronization

/// Clients kept by key for the process's life, so their connections (and sessions) serve every
/// attempt that needs them: a few keys at most in practice; beyond ``limit`` the least recently
/// used is dropped. A dropped client is shut down once no caller still uses it, so one tenant's
/// many connectors cannot cut off another tenant's requests in flight.
public final class KeptClients<Key: Hashable & Sendable, Client: Sendable>: Sendable {
    private struct Entry {
        var client: Client
        var id: UInt64
        var used: UInt64
        var users: Int
    }

    private struct State {
        var kept: [Key: Entry] = [:]
        /// Dropped clients still in use, by entry id.
        var draining: [UInt64: (client: Client, users: Int)] = [:]
    }

    private let state = Mutex(State())
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
        let clients = state.withLock { $0.kept.values.map(\.client) + $0.draining.values.map(\.client) }
        let shutdown = shutdown
        Task { for client in clients { await shutdown(client) } }
    }

    /// `body`'s result with the client kept for `key`, or one made by `make` and kept; the client
    /// is not shut down while `body` runs.
    public func using<Result>(
        _ key: Key, make: () async throws -> Client, _ body: (Client) async throws -> Result
    ) async throws -> Result {
        let (id, client) = try await acquire(key, make: make)
        do {
            let result = try await body(client)
            await release(key, id: id)
            return result
        } catch {
            await release(key, id: id)
            throw error
        }
    }

    private func acquire(_ key: Key, make: () async throws -> Client) async throws -> (UInt64, Client) {
        let tick = clock.add(1, ordering: .relaxed).newValue
        let found = state.withLock { state -> (UInt64, Client)? in
            guard var entry = state.kept[key] else { return nil }
            entry.used = tick
            entry.users += 1
            state.kept[key] = entry
            return (entry.id, entry.client)
        }
        if let found { return found }
        let made = try await make()
        let (taken, unused, evicted) = state.withLock { state -> ((UInt64, Client), Client?, Client?) in
            if var raced = state.kept[key] {
                raced.users += 1
                state.kept[key] = raced
                return ((raced.id, raced.client), made, nil)
            }
            state.kept[key] = Entry(client: made, id: tick, used: tick, users: 1)
            guard state.kept.count > limit,
                let oldest = state.kept.filter({ $0.key != key }).min(by: { $0.value.used < $1.value.used })
            else { return ((tick, made), nil, nil) }
            state.kept[oldest.key] = nil
            guard oldest.value.users == 0 else {
                state.draining[oldest.value.id] = (oldest.value.client, oldest.value.users)
                return ((tick, made), nil, nil)
            }
            return ((tick, made), nil, oldest.value.client)
        }
        if let unused { await shutdown(unused) }
        if let evicted { await shutdown(evicted) }
        return taken
    }

    private func release(_ key: Key, id: UInt64) async {
        let finished = state.withLock { state -> Client? in
            if var entry = state.kept[key], entry.id == id {
                entry.users -= 1
                state.kept[key] = entry
                return nil
            }
            guard var draining = state.draining[id] else { return nil }
            draining.users -= 1
            guard draining.users == 0 else {
                state.draining[id] = draining
                return nil
            }
            state.draining[id] = nil
            return draining.client
        }
        if let finished { await shutdown(finished) }
    }
}
