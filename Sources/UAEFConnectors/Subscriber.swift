import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore

/// What one delivery attempt came to.
enum DeliveryOutcome: Sendable {
    case delivered(status: Int?)
    /// Worth trying again later (after `retryAfter` at least, when the receiver asked).
    case failed(status: Int?, error: String, retryAfter: Duration?)
    /// The receiver asked for no more deliveries (410 Gone): the subscription pauses.
    case gone(status: Int, error: String)
    /// Trying again cannot help (the receiver refused the message, or whether it took it is
    /// unknown): the delivery is dead at once, for an operator to look into and replay.
    case abandoned(status: Int?, error: String)
    /// Taken, and still being worked on at the receiver (an ERP's import job): looked at again
    /// after `retryAfter`, without counting as an attempt.
    case waiting(retryAfter: Duration)
}

/// Where a subscription's messages go: a webhook URL, an SQS queue or a Service Bus entity.
protocol DeliveryChannel: Sendable {
    /// Attempts `delivery` of `event`.
    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome
    func close() async
}

/// A channel that could not be opened: every delivery fails with the reason.
struct UnreachableChannel: DeliveryChannel {
    let reason: String

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        .failed(status: nil, error: "cannot reach the connector: \(reason)", retryAfter: nil)
    }

    func close() async {}
}

/// What a subscription sends for an event: type and time from the event, and as `data` the
/// event's id, place in the log, subject, actor and data.
enum SubscriptionMessage {
    static func data(_ record: EventRecord) -> JSONValue {
        [
            "id": .string(record.event.id), "seq": .number(Number(Int(record.seq))),
            "subject": .string(record.event.subject), "actor": .string(record.event.actor),
            "data": .object(record.event.data),
        ]
    }

    /// The whole message as one JSON text: what a queue carries.
    static func envelope(_ record: EventRecord) -> String {
        JSONValue.object([
            "type": .string(record.event.type), "timestamp": .string(Timestamp.format(record.event.time)),
            "data": data(record),
        ]).jsonText
    }
}

/// Webhook deliveries of one connector on one keep-alive client pinned to the checked address.
struct WebhookChannel: DeliveryChannel {
    let client: HTTPClient
    let url: URL
    let settings: [String: JSONValue]
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        let id = delivery.id
        let post = WebhookPost(
            id: id, type: event.event.type, time: event.event.time, data: SubscriptionMessage.data(event))
        do {
            let (response, body) = try await OutboundHTTP.execute(
                try post.request(to: url, settings: settings, now: Date(), caller: "subscription"), on: client,
                to: url, method: "POST", by: "subscription", timeout: TimeAmount(WebhookPost.timeout(settings)),
                logger: logger)
            let answer = WebhookAnswer(response, body: body)
            if answer.succeeded { return .delivered(status: answer.status) }
            let error = scrubber.scrub(answer.reason(url: url))
            if answer.status == 410 { return .gone(status: 410, error: error) }
            return .failed(status: answer.status, error: error, retryAfter: answer.retryAfter)
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async { try? await client.shutdown() }
}

/// SQS deliveries: each event one message whose body is the JSON envelope, with the attributes
/// `uaef-message-id` (the delivery id; also the deduplication id on a FIFO queue, whose group is
/// the tenant) and `uaef-event-type`.
struct SQSChannel: DeliveryChannel {
    let client: SQSClient
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        let id = delivery.id
        var message = SQSClient.OutgoingMessage(
            body: SubscriptionMessage.envelope(event),
            attributes: [SQSSendKind.messageIDAttribute: id, "uaef-event-type": event.event.type])
        if client.isFIFO {
            message.groupID = event.event.tenant
            message.deduplicationID = id
        }
        do {
            _ = try await client.send(message, logger: logger)
            return .delivered(status: nil)
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async {}
}

/// Service Bus deliveries: each event one message whose body is the JSON envelope, with the
/// delivery id as its `MessageId` (for the entity's duplicate detection) and the properties
/// `uaef-message-id` and `uaef-event-type`.
struct ServiceBusChannel: DeliveryChannel {
    let client: ServiceBusClient
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        let id = delivery.id
        let message = ServiceBusClient.OutgoingMessage(
            body: SubscriptionMessage.envelope(event), messageID: id,
            properties: [SQSSendKind.messageIDAttribute: id, "uaef-event-type": event.event.type])
        do {
            try await client.send(message, logger: logger)
            return .delivered(status: 201)
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async {}
}

/// Forwards one connector's subscribed events: moves the subscription's cursor over the event
/// log, enqueueing a delivery for each matching event in the same transaction (the outbox), then
/// attempts the due deliveries, at most `max_concurrency` at once (10 by default), and records
/// each outcome: delivered, tried again on the retry schedule, dead after the last attempt, or
/// the subscription paused when the receiver answered 410 Gone.
public struct Subscriber: Sendable {
    let store: any WorkflowStore
    let record: ConnectorRecord
    let subscription: Subscription
    let schedule: RetrySchedule
    let concurrency: Int

    /// Deliveries in flight at once when the connector sets no `max_concurrency`.
    static let defaultConcurrency = 10
    /// Events looked at per page of the log.
    static let pageSize = 1_000
    /// How long a claimed delivery is this process's before another may attempt it.
    static let claimLease: TimeInterval = 120

    /// The subscriber of `record`, or nil when it has no valid subscription.
    public init?(store: any WorkflowStore, record: ConnectorRecord) {
        guard let value = record.settings["subscription"], case .success(let subscription) = Subscription.parse(value)
        else { return nil }
        self.store = store
        self.record = record
        self.subscription = subscription
        let delays = record.settings["retry_schedule"]?.arrayValue?.compactMap {
            $0.stringValue.flatMap(DurationText.parse)
        }
        schedule = delays.map(RetrySchedule.init) ?? .standardWebhooks
        concurrency = record.settings["max_concurrency"]?.numberValue?.intValue ?? Self.defaultConcurrency
    }

    /// Enqueues the matching events the cursor has not looked at yet, up to `pages` pages of
    /// the log; how many deliveries were enqueued, and whether the subscription is paused.
    func enqueue(now: Date, pages: Int = 10) async throws -> (enqueued: Int, paused: Bool) {
        var cursor = try await store.subscriptionCursor(tenant: record.tenant, connector: record.name)
        var enqueued = 0
        for _ in 0..<pages {
            guard
                let page = try await store.tenantEvents(
                    from: cursor.next, scanning: Self.pageSize, tenant: record.tenant)
            else { break }
            let deliveries = page.records.filter(subscription.matches).map { event in
                DeliveryRecord(
                    tenant: record.tenant, connector: record.name, id: "msg_" + event.event.id, eventSeq: event.seq,
                    eventType: event.event.type, nextAttemptAt: now, createdAt: now, updatedAt: now)
            }
            guard
                try await store.enqueueDeliveries(
                    deliveries, tenant: record.tenant, connector: record.name, from: cursor.next, next: page.next)
            else { break }
            enqueued += deliveries.count
            cursor.next = page.next
        }
        return (enqueued, cursor.pausedReason != nil)
    }

    /// Whether a receiver's 410 Gone paused the subscription.
    func isPaused() async throws -> Bool {
        try await store.subscriptionCursor(tenant: record.tenant, connector: record.name).pausedReason != nil
    }

    /// The deliveries in flight at once split over up to four lanes, each claiming, sending and
    /// recording on its own, so one lane's database work overlaps the other's sending.
    var lanes: [Int] {
        let count = min(Self.maximumLanes, concurrency)
        return (0..<count).map { lane in concurrency / count + (lane < concurrency % count ? 1 : 0) }
    }

    /// The most lanes one subscriber runs.
    static let maximumLanes = 4

    /// Attempts the due deliveries through `channel`, at most `concurrency` (default: the
    /// connector's `max_concurrency`) at once; how many were attempted.
    func deliverDue(through channel: any DeliveryChannel, now: Date, concurrency: Int? = nil, logger: Logger)
        async throws -> Int
    {
        let concurrency = concurrency ?? self.concurrency
        let claimed = try await store.claimDeliveries(
            tenant: record.tenant, connector: record.name, now: now,
            leaseUntil: now.addingTimeInterval(Self.claimLease), limit: concurrency * 8)
        guard !claimed.isEmpty else { return 0 }
        let events = try await events(of: claimed)
        var outcomes: [(DeliveryRecord, DeliveryOutcome)] = []
        var unattempted: [DeliveryRecord] = []
        await withTaskGroup(of: (DeliveryRecord, DeliveryOutcome).self) { group in
            var next = claimed.makeIterator()
            var stopped = false
            func start() -> Bool {
                guard !stopped, let delivery = next.next() else { return false }
                group.addTask {
                    guard let event = events[delivery.eventSeq] else {
                        return (delivery, .failed(status: nil, error: "the event is not in the log", retryAfter: nil))
                    }
                    return (delivery, await channel.deliver(delivery, event: event, logger: logger))
                }
                return true
            }
            for _ in 0..<concurrency where start() {}
            while let result = await group.next() {
                outcomes.append(result)
                // After a 410 nothing more is sent; what was claimed goes back as it was.
                if case .gone = result.1 { stopped = true }
                _ = start()
            }
            while let delivery = next.next() { unattempted.append(delivery) }
        }
        var random = SystemRandomNumberGenerator()
        let finished = Date()
        var gone: String?
        let records = outcomes.map { delivery, outcome -> DeliveryRecord in
            var delivery = delivery
            delivery.updatedAt = finished
            if case .waiting(let retryAfter) = outcome {
                delivery.nextAttemptAt = finished.addingTimeInterval(retryAfter.timeInterval)
                delivery.lastStatus = nil
                delivery.lastError = nil
                return delivery
            }
            delivery.attempts += 1
            switch outcome {
            case .delivered(let status):
                delivery.status = .delivered
                delivery.nextAttemptAt = nil
                delivery.lastStatus = status
                delivery.lastError = nil
                ConnectorMetrics.count(.sent, tenant: record.tenant, connector: record.name)
            case .failed(let status, let error, let retryAfter):
                delivery.lastStatus = status
                delivery.lastError = error
                delivery.nextAttemptAt = schedule.nextAttempt(
                    after: delivery.attempts, at: finished, retryAfter: retryAfter, using: &random)
                delivery.status = delivery.nextAttemptAt == nil ? .dead : .pending
                ConnectorMetrics.count(.sendFailed, tenant: record.tenant, connector: record.name)
            case .abandoned(let status, let error):
                delivery.status = .dead
                delivery.nextAttemptAt = nil
                delivery.lastStatus = status
                delivery.lastError = error
                ConnectorMetrics.count(.sendFailed, tenant: record.tenant, connector: record.name)
            case .waiting: break
            case .gone(let status, let error):
                // Kept pending: a resumed subscription delivers it first.
                delivery.lastStatus = status
                delivery.lastError = error
                delivery.nextAttemptAt = finished
                gone = error
                ConnectorMetrics.count(.sendFailed, tenant: record.tenant, connector: record.name)
            }
            if delivery.attempts > 1 { ConnectorMetrics.count(.retried, tenant: record.tenant, connector: record.name) }
            return delivery
        }
        try await store.recordDeliveries(records + unattempted)
        if let gone {
            logger.warning("the receiver answered 410 Gone: the subscription is paused", metadata: ["error": "\(gone)"])
            _ = try await ConnectorRegistry.pause(
                record.name, reason: "410 Gone at \(Timestamp.format(finished)): \(gone)", tenant: record.tenant,
                actor: "subscriber", store: store)
        }
        return records.count
    }

    /// The events of `deliveries`, by seq: one read of the tenant's events when they lie close
    /// together, else one per event.
    private func events(of deliveries: [DeliveryRecord]) async throws -> [Int64: EventRecord] {
        let seqs = deliveries.map(\.eventSeq).sorted()
        guard let first = seqs.first, let last = seqs.last else { return [:] }
        var found: [Int64: EventRecord] = [:]
        if last - first < Int64(4 * seqs.count + 64) {
            for event in try await store.events(in: first..<(last + 1), tenant: record.tenant) {
                found[event.seq] = event
            }
        } else {
            for seq in seqs {
                for event in try await store.events(in: seq..<(seq + 1), tenant: record.tenant) {
                    found[event.seq] = event
                }
            }
        }
        return found
    }
}
