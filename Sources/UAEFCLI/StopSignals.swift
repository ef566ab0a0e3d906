import Foundation

/// SIGINT and SIGTERM as a request to stop: the running operation is cancelled.
enum StopSignals {
    /// The operation did not end within its grace period after a stop signal.
    struct Overdue: Error, CustomStringConvertible {
        let gracePeriod: Duration
        var description: String { "did not stop within \(gracePeriod) of the stop signal" }
    }

    /// Runs `operation`, cancelling it on SIGINT or SIGTERM (it then usually throws
    /// `CancellationError`). With a `gracePeriod`, an operation still running that long after
    /// the signal is abandoned with ``Overdue`` (the caller then exits; everything it did is
    /// durable). Afterwards both signals are ignored until something else listens for them (a
    /// service group's handlers).
    static func cancelling<Value: Sendable>(
        gracePeriod: Duration? = nil, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let task = Task(operation: operation)
        let (signals, signalled) = AsyncStream<Void>.makeStream()
        let sources = [SIGINT, SIGTERM].map { (number: Int32) -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                task.cancel()
                signalled.yield()
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            signalled.finish()
        }
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await task.value
                } onCancel: {
                    task.cancel()
                }
            }
            if let gracePeriod {
                group.addTask {
                    for await _ in signals {
                        try await Task.sleep(for: gracePeriod)
                        throw Overdue(gracePeriod: gracePeriod)
                    }
                    return nil
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let value = result { return value }
            }
            throw CancellationError()
        }
    }
}
