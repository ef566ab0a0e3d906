import Foundation
import Logging
import Metrics
import UAEFCore
import UAEFEngine

/// A message taken from a queue under a lock (SQS: a receipt handle and its visibility timeout;
/// Service Bus: a peek-lock), which stays the consumer's until it completes or abandons it.
public struct LockedMessage: Sendable {
    /// The id that makes the message's trigger happen at most once: a sender's stable id when the
    /// message carries one (`uaef-message-id`), else the broker's message id.
    public var id: String
    public var body: String
    /// What completes, abandons or renews the message (a receipt handle, a lock location).
    public var lock: String
    /// How many times the broker has handed the message out, this time included.
    public var deliveryCount: Int

    public init(id: String, body: String, lock: String, deliveryCount: Int) {
        self.id = id
        self.body = body
        self.lock = lock
        self.deliveryCount = deliveryCount
    }

    /// The id a trigger uses: the sender's stable id when it has one of at most
    /// ``InboundWebhook/maximumIDBytes`` bytes, else the broker's own.
    public static func id(sent: String?, broker: String) -> String {
        guard let sent, !sent.isEmpty, sent.utf8.count <= InboundWebhook.maximumIDBytes else { return broker }
        return sent
    }

    /// The message's data for a trigger: its body as JSON, or as text when it is not JSON.
    public var data: JSONValue { (try? JSONValue(jsonText: body)) ?? .string(body) }
}

/// A queue a consumer takes messages from: SQS and Service Bus alike.
public protocol MessageQueue: Sendable {
    /// Waits (long polling) for up to a batch of messages, each locked to this consumer.
    func receive(logger: Logger) async throws -> [LockedMessage]
    /// The messages are done: remove them from the queue (in as few calls as the broker allows).
    func complete(_ messages: [LockedMessage], logger: Logger) async throws
    /// The message failed: hand it back for redelivery (and in time the queue's dead letters).
    func abandon(_ message: LockedMessage, logger: Logger) async throws
    /// Keeps the lock of a message still being processed.
    func renew(_ message: LockedMessage, logger: Logger) async throws
    /// How often ``renew(_:logger:)`` is called while a message is processed.
    var renewalInterval: Duration { get }
}

/// Takes messages from one connector's queue and dispatches each to its routes (the connector's
/// trigger, workflows triggering on it): received under a lock that is renewed while they run, completed only once the run or signal it caused
/// is durable (so a consumer that dies in between leaves the message to come back, and the
/// trigger's idempotency key makes the second delivery find what the first started), abandoned
/// when dispatching fails. Receive errors back off from 1 s to a minute; a dead connector holds
/// up only its own consumer.
public struct MessageConsumer: Sendable {
    public let tenant: String
    public let connector: String
    /// `sqs` or `servicebus`: the first part of the trigger's idempotency key.
    public let source: String
    let queue: any MessageQueue
    /// Where messages go, asked for each message (workflows' triggers change).
    let routes: @Sendable () async throws -> TriggerRoutes
    let dispatch: TriggerDispatch
    let engine: Engine

    public init(
        tenant: String, connector: String, source: String, queue: any MessageQueue,
        routes: @escaping @Sendable () async throws -> TriggerRoutes, dispatch: TriggerDispatch, engine: Engine
    ) {
        self.tenant = tenant
        self.connector = connector
        self.source = source
        self.queue = queue
        self.routes = routes
        self.dispatch = dispatch
        self.engine = engine
    }

    /// Consumes until cancelled.
    public func run(logger: Logger) async {
        var backoff = Duration.seconds(1)
        while !Task.isCancelled {
            do {
                let messages = try await queue.receive(logger: logger)
                backoff = .seconds(1)
                ConnectorMetrics.count(.received, tenant: tenant, connector: connector, by: messages.count)
                await process(messages, logger: logger)
            } catch {
                if Task.isCancelled { return }
                ConnectorMetrics.count(.receiveFailed, tenant: tenant, connector: connector)
                logger.warning(
                    "cannot receive from the connector's queue; retrying",
                    metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(60))
            }
        }
    }

    /// Dispatches the messages of one receive at once, then completes those whose trigger
    /// happened, together. Completing may fail (a lock lost meanwhile): such a message comes back
    /// and its trigger's idempotency key finds what it started.
    func process(_ messages: [LockedMessage], logger: Logger) async {
        let done = await withTaskGroup(of: LockedMessage?.self) { group in
            for message in messages {
                group.addTask { await dispatch(message, logger: logger) ? message : nil }
            }
            var done: [LockedMessage] = []
            for await message in group { if let message { done.append(message) } }
            return done
        }
        guard !done.isEmpty else { return }
        do {
            try await queue.complete(done, logger: logger)
            ConnectorMetrics.count(.processed, tenant: tenant, connector: connector, by: done.count)
        } catch {
            logger.warning(
                "dispatched messages could not be completed; they will come back and start nothing new",
                metadata: ["error": "\(error)", "messages": "\(done.count)"])
        }
    }

    /// Dispatches one message, renewing its lock meanwhile; true when its trigger happened, else
    /// (the message abandoned) false.
    private func dispatch(_ message: LockedMessage, logger: Logger) async -> Bool {
        var messageLogger = logger
        messageLogger[metadataKey: "message_id"] = "\(message.id)"
        let logger = messageLogger
        do {
            let outcomes = try await withThrowingTaskGroup(of: [TriggerDispatch.Outcome]?.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: queue.renewalInterval)
                        try await queue.renew(message, logger: logger)
                    }
                }
                group.addTask {
                    try await dispatch.dispatch(
                        try await routes(), data: message.data, source: source, connector: connector, id: message.id,
                        engine: engine)
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let outcomes = result { return outcomes }
                }
                throw CancellationError()
            }
            if outcomes.isEmpty { ConnectorMetrics.count(.ignored, tenant: tenant, connector: connector) }
            logger.debug("message dispatched", metadata: ["outcomes": "\(outcomes)"])
            return true
        } catch {
            ConnectorMetrics.count(.failed, tenant: tenant, connector: connector)
            logger.warning(
                "a message could not be dispatched; it is left for redelivery",
                metadata: ["error": "\(error)", "delivery_count": "\(message.deliveryCount)"])
            try? await queue.abandon(message, logger: logger)
            return false
        }
    }
}

/// Counters of connector traffic, per tenant and connector, for `/metrics`
/// (`uaef_connector_messages_total{tenant, connector, event}`).
public enum ConnectorMetrics {
    public enum Event: String, Sendable {
        /// Taken from a queue or a webhook.
        case received
        /// Its trigger ran and the message was completed.
        case processed
        /// No route took it (every workflow's filter declined it); completed without effect.
        case ignored
        /// Its trigger failed; left for redelivery.
        case failed
        /// A receive call failed.
        case receiveFailed = "receive_failed"
        /// Sent by a task.
        case sent
        /// A send attempt failed.
        case sendFailed = "send_failed"
        /// A send attempt after a failed one.
        case retried
    }

    public static func count(_ event: Event, tenant: String, connector: String, by amount: Int = 1) {
        guard amount > 0 else { return }
        Counter(
            label: "uaef_connector_messages_total",
            dimensions: [("tenant", tenant), ("connector", connector), ("event", event.rawValue)]
        ).increment(by: amount)
    }
}
