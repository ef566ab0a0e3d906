import Foundation

/// SIGINT and SIGTERM as a request to stop: the running operation is cancelled.
enum StopSignals {
    /// Runs `operation`, cancelling it on SIGINT or SIGTERM (it then usually throws
    /// `CancellationError`), and also calling `onSignal`. Afterwards both signals are ignored
    /// until something else listens for them (a service group's handlers).
    static func cancelling<Value: Sendable>(
        _ operation: @escaping @Sendable () async throws -> Value, onSignal: @escaping @Sendable () -> Void = {}
    ) async throws -> Value {
        let task = Task(operation: operation)
        let sources = [SIGINT, SIGTERM].map { (number: Int32) -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                task.cancel()
                onSignal()
            }
            source.resume()
            return source
        }
        defer { for source in sources { source.cancel() } }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}
