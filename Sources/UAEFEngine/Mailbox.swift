import Synchronization

/// A many-producer, one-consumer queue that hands the consumer everything queued so far at once,
/// so the runner commits whatever arrived together in one transaction.
final class Mailbox<Message: Sendable>: Sendable {
    private let queue = Mutex<[Message]>([])
    private let signal: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init() {
        (signal, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a message and wakes the consumer.
    func post(_ message: Message) {
        queue.withLock { $0.append(message) }
        wake.yield()
    }

    /// Waits until at least one message is queued, then returns all of them; nil when cancelled.
    func takeAll() async -> [Message]? {
        var iterator = signal.makeAsyncIterator()
        while true {
            let batch = queue.withLock { queue in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            if !batch.isEmpty { return batch }
            guard await iterator.next() != nil else { return nil }
        }
    }
}
