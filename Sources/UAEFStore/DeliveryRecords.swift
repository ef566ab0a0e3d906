import Foundation
import UAEFCore

/// Where a subscription's delivery stands.
public enum DeliveryStatus: String, Sendable, Hashable, CaseIterable {
    /// Waiting for its next attempt (at ``DeliveryRecord/nextAttemptAt``).
    case pending
    /// Accepted by the receiver.
    case delivered
    /// Every attempt failed, or the receiver refused it for good; an operator may replay it.
    case dead
}

/// One ledger event to deliver to one subscribed connector: the outbox row. Its id
/// (`msg_` + the event's id) is the message id every attempt sends, so receivers can drop a
/// repeated delivery.
public struct DeliveryRecord: Sendable, Hashable {
    public var tenant: String
    public var connector: String
    public var id: String
    /// The event's place in the log, from which each attempt reads the event afresh (so a
    /// redaction reaches deliveries not yet made).
    public var eventSeq: Int64
    public var eventType: String
    public var status: DeliveryStatus
    /// Attempts made so far.
    public var attempts: Int
    public var nextAttemptAt: Date?
    /// The last attempt's HTTP status (or nil when it got none) and error.
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        tenant: String, connector: String, id: String, eventSeq: Int64, eventType: String,
        status: DeliveryStatus = .pending, attempts: Int = 0, nextAttemptAt: Date?, lastStatus: Int? = nil,
        lastError: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.tenant = tenant
        self.connector = connector
        self.id = id
        self.eventSeq = eventSeq
        self.eventType = eventType
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether an operator replayed this delivery after it died and no attempt was recorded since:
    /// a replay starts the attempts afresh but keeps the error that killed it.
    public var isReplayed: Bool { attempts == 0 && lastError != nil }
}

/// A subscription's durable cursor over the event log: the next event it will look at, and why
/// it is paused (a receiver answered 410 Gone), if it is.
public struct SubscriptionCursor: Sendable, Hashable {
    public var tenant: String
    public var connector: String
    public var next: Int64
    public var pausedReason: String?

    public init(tenant: String, connector: String, next: Int64, pausedReason: String? = nil) {
        self.tenant = tenant
        self.connector = connector
        self.next = next
        self.pausedReason = pausedReason
    }
}

/// The outbox of subscriptions, part of every ``WorkflowStore``: cursors over the event log and
/// the deliveries they enqueue. Enqueueing and advancing a cursor are one transaction, and a
/// delivery is claimed under a lease before it is attempted, so no event is skipped or sent by
/// two processes at once.
public protocol DeliveryStore: Sendable {
    /// The subscription's cursor. A new one starts just after the connector's latest
    /// `connector.saved` event (else at the log's end): a subscription gets the events that
    /// follow its creation.
    func subscriptionCursor(tenant: String, connector: String) async throws -> SubscriptionCursor

    /// Adds `deliveries` (one already there is kept as it is) and moves the cursor from `from` to
    /// `next`, in one transaction; false, writing nothing, when the cursor was no longer at `from`
    /// (another process moved it).
    func enqueueDeliveries(
        _ deliveries: [DeliveryRecord], tenant: String, connector: String, from: Int64, next: Int64
    ) async throws -> Bool

    /// Up to `limit` pending deliveries of the connector due at `now` (and ones whose claim
    /// expired), oldest event first, each leased until `leaseUntil`.
    func claimDeliveries(tenant: String, connector: String, now: Date, leaseUntil: Date, limit: Int) async throws
        -> [DeliveryRecord]

    /// Records attempts' outcomes (status, attempts, next attempt, last status and error) and
    /// ends their leases.
    func recordDeliveries(_ deliveries: [DeliveryRecord]) async throws

    /// The tenant's deliveries, newest event first, optionally of one connector and status,
    /// after the delivery `before` (an event seq) for the next page.
    func deliveries(
        tenant: String, connector: String?, status: DeliveryStatus?, before: Int64?, limit: Int
    ) async throws -> [DeliveryRecord]

    /// Makes dead deliveries of the connector (those with the given ids, or all) pending again
    /// with a fresh set of attempts, due at `now`, and records the event `event` makes of their
    /// ids in the same transaction (none when no delivery was dead); their ids.
    func replayDeliveries(
        tenant: String, connector: String, ids: [String]?, now: Date, event: @Sendable ([String]) -> EventDraft
    ) async throws -> [String]

    /// Pauses the subscription with `reason`, or resumes it (nil), and records `event` in the
    /// same transaction when that changed it; the reason it was paused for before (nil: it ran).
    func pauseSubscription(tenant: String, connector: String, reason: String?, event: EventDraft) async throws
        -> String?
}

/// Deliveries grouped by everything a recorded outcome writes (status, attempts, next attempt,
/// last status and error, time, connector): each group is one update of many ids.
public enum DeliveryOutcomeGroup {
    private struct Key: Hashable {
        var tenant: String
        var connector: String
        var status: DeliveryStatus
        var attempts: Int
        var nextAttemptAt: Date?
        var lastStatus: Int?
        var lastError: String?
        var updatedAt: Date
    }

    public static func groups(of deliveries: [DeliveryRecord]) -> [[DeliveryRecord]] {
        var order: [Key] = []
        var groups: [Key: [DeliveryRecord]] = [:]
        for delivery in deliveries {
            let key = Key(
                tenant: delivery.tenant, connector: delivery.connector, status: delivery.status,
                attempts: delivery.attempts, nextAttemptAt: delivery.nextAttemptAt, lastStatus: delivery.lastStatus,
                lastError: delivery.lastError, updatedAt: delivery.updatedAt)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(delivery)
        }
        return order.map { groups[$0]! }
    }
}
