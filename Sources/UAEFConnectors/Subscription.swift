import Foundation
import UAEFCore
import UAEFStore

/// A connector's `subscription`: the ledger events it forwards. `events` lists event types, each
/// exact (`run.succeeded`) or a prefix pattern (`run.*`, `settlement.*`, or `*` for every
/// event); `filter` is an optional expression over `event` (`type`, `subject`, `actor`, `time`,
/// `seq`, `data`) that must be true, e.g. `event.data.status == "failed"`.
public struct Subscription: Sendable, Hashable {
    public var events: [String]
    public var filter: UAEFCore.Expression?
    public var filterText: String?

    /// The most event patterns one subscription lists.
    public static let maximumPatterns = 50

    /// The subscription a connector's `subscription` setting describes; the problem otherwise.
    public static func parse(_ value: JSONValue) -> Result<Subscription, SubscriptionProblem> {
        guard let members = value.objectValue, Set(members.keys).isSubset(of: ["events", "filter"]) else {
            return .failure(SubscriptionProblem("expected {events: [TYPE, ...], filter: EXPRESSION}"))
        }
        guard let list = members["events"]?.arrayValue, (1...maximumPatterns).contains(list.count) else {
            return .failure(SubscriptionProblem("events: expected a list of 1 to \(maximumPatterns) event types"))
        }
        var events: [String] = []
        for element in list {
            guard let pattern = element.stringValue, isPattern(pattern) else {
                return .failure(
                    SubscriptionProblem(
                        "events: \(element.jsonText.prefix(60)) is not an event type such as run.succeeded, a pattern such as run.*, or *"
                    ))
            }
            events.append(pattern)
        }
        var subscription = Subscription(events: events, filter: nil, filterText: nil)
        if let given = members["filter"] {
            guard let text = given.stringValue, (1...2_000).contains(text.utf8.count) else {
                return .failure(SubscriptionProblem("filter: expected an expression of at most 2000 bytes"))
            }
            do {
                subscription.filter = try UAEFCore.Expression(parsing: text)
                subscription.filterText = text
            } catch {
                return .failure(SubscriptionProblem("filter: \(error.description)"))
            }
        }
        return .success(subscription)
    }

    /// Whether the subscription forwards `record`.
    public func matches(_ record: EventRecord) -> Bool {
        let type = record.event.type
        guard
            events.contains(where: { pattern in
                pattern == "*" || pattern == type
                    || (pattern.hasSuffix(".*") && type.hasPrefix(pattern.dropLast(1)))
            })
        else { return false }
        guard let filter else { return true }
        return (try? filter.evaluate(in: ["event": Self.context(record)])) == .bool(true)
    }

    /// What a filter sees of an event.
    static func context(_ record: EventRecord) -> JSONValue {
        [
            "type": .string(record.event.type), "subject": .string(record.event.subject),
            "actor": .string(record.event.actor), "time": .string(Timestamp.format(record.event.time)),
            "seq": .number(Number(Int(record.seq))), "data": .object(record.event.data),
        ]
    }

    /// `a.b`, `a.*` or `*`: 1 to 128 of a-z, 0-9, `_`, `-` and `.`.
    static func isPattern(_ text: String) -> Bool {
        if text == "*" { return true }
        let body = text.hasSuffix(".*") ? String(text.dropLast(2)) : text
        return (1...128).contains(body.utf8.count)
            && body.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ".")].contains(byte)
            }
    }
}

/// Why a `subscription` setting is refused.
public struct SubscriptionProblem: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// When a failed delivery is tried again: the Standard Webhooks schedule by default (5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after each failure: ten attempts over about
/// three days and a half), each wait stretched or shrunk by up to a fifth at random so that
/// receivers coming back up are not hit by every sender at once. A `Retry-After` longer than
/// the wait is honoured.
public struct RetrySchedule: Sendable, Hashable {
    /// The wait after the first, second, ... failed attempt; the delivery is dead after
    /// `delays.count + 1` attempts.
    public var delays: [Duration]

    public init(delays: [Duration]) { self.delays = delays }

    public static let standardWebhooks = RetrySchedule(delays: [
        .seconds(5), .seconds(300), .seconds(1_800), .seconds(7_200), .seconds(18_000), .seconds(36_000),
        .seconds(50_400), .seconds(72_000), .seconds(86_400),
    ])

    /// The longest `Retry-After` honoured.
    public static let maximumRetryAfter = Duration.seconds(86_400)

    /// The most attempts a delivery gets.
    public var maximumAttempts: Int { delays.count + 1 }

    /// When to try again after `attempts` attempts failed (the last asking to wait
    /// `retryAfter`), or nil when none are left.
    public func nextAttempt(
        after attempts: Int, at now: Date, retryAfter: Duration?, using random: inout some RandomNumberGenerator
    ) -> Date? {
        guard attempts >= 1, attempts < maximumAttempts else { return nil }
        let base = delays[attempts - 1]
        let jittered = base * Double.random(in: 0.8...1.2, using: &random)
        let wait = max(jittered, min(retryAfter ?? .zero, Self.maximumRetryAfter))
        return now.addingTimeInterval(wait.timeInterval)
    }
}
