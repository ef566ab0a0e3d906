import GRDB

/// A `DatabasePool` with only its async accessors, for the store's async methods.
///
/// GRDB's synchronous `read` and `write` block the calling thread until a connection is free.
/// From async code that thread is one of the few of the cooperative pool (two on a two-core
/// machine), and the tasks holding the connections need those threads to finish: when every one
/// waits, the process stops for good. Overload resolution picks the synchronous form silently
/// when the closure's result is not `Sendable` (a GRDB `Row`, say), so the store reaches its
/// database through this type, where that is a compile error instead.
struct AsyncDatabasePool: Sendable {
    let pool: DatabasePool

    /// Runs `value` on a reader connection without blocking a thread while it waits for one.
    func read<T: Sendable>(_ value: @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(value)
    }

    /// Runs `updates` in a transaction of the writer connection without blocking a thread while
    /// it waits for it.
    func write<T: Sendable>(_ updates: @Sendable (Database) throws -> T) async throws -> T {
        try await pool.write(updates)
    }
}
