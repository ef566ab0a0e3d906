import Synchronization

/// Tells every subscriber that something happened (events were committed), for stores whose
/// notifications come from within the process. A subscriber that is slower than the
/// notifications sees them coalesced: it only needs to know that it should look again.
public final class NotificationBroadcast: Sendable {
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<Void>.Continuation])>((0, [:]))

    public init() {}

    /// A stream that yields after each notification from now on, until it is dropped.
    public func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = subscribers.withLock { state in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Wakes every subscriber.
    public func notify() {
        for continuation in subscribers.withLock({ Array($0.continuations.values) }) { continuation.yield() }
    }
}
