import Logging
import PostgresNIO
import Synchronization
import UAEFStore

/// `LISTEN`/`NOTIFY`: a commit that makes work claimable (a run submitted without a lease, leases
/// released, an attempt queued for workers or a remote agent) notifies one channel when it
/// commits, so idle workers and agents' long polls claim at once instead of at their next poll;
/// a commit that appends events notifies another, for live event streams.
extension PostgresStore {
    /// The channel work notifications travel on.
    static let workChannel = "uaef_work"
    /// The channel that tells of committed events.
    static let eventChannel = "uaef_events"

    public func workNotifications() -> AsyncStream<Void>? { notifications(on: Self.workChannel) }

    public func eventNotifications() -> AsyncStream<Void> { notifications(on: Self.eventChannel) }

    /// Listens on `channel` on a connection of its own, listening again after the database restarts.
    private func notifications(on channel: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (client, logger) = (client, logger)
        let listener = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: channel) { notifications in
                            // Listening (again): whatever committed while nobody listened went unheard.
                            continuation.yield()
                            for try await _ in notifications { continuation.yield() }
                        }
                    }
                } catch {
                    logger.debug(
                        "listening for notifications failed", metadata: ["channel": "\(channel)", "error": "\(error)"])
                }
                // The connection went away (the database restarted): listen again shortly.
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in listener.cancel() }
        listeners.withLock { $0.append(listener) }
        return stream
    }

    /// Queues a work notification, delivered when the surrounding transaction commits.
    static func notifyWork(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(workChannel), '')", logger: logger)
    }
}
