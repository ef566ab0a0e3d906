import Synchronization

/// A dictionary behind a lock for values that never change once known (a verified token, an ended
/// run's report, a parsed definition): when it holds `capacity` entries it starts again empty,
/// which bounds its memory without bookkeeping on every read.
public final class BoundedCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: Value]>([:])
    /// The most entries held.
    public let capacity: Int

    public init(capacity: Int) { self.capacity = capacity }

    /// The value for `key`, or nil.
    public func value(for key: String) -> Value? { entries.withLock { $0[key] } }

    /// Forgets the value for `key`.
    public func remove(_ key: String) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    /// Keeps `value` for `key`.
    public func keep(_ value: Value, for key: String) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
    }

    /// Forgets `key`.
    public func forget(_ key: String) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    /// The value for `key`, made by `make` and kept when not known yet.
    public func value(for key: String, orMake make: () throws -> Value) rethrows -> Value {
        if let known = value(for: key) { return known }
        let made = try make()
        keep(made, for: key)
        return made
    }
}
