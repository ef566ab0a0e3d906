import Foundation

/// Durations counted in logarithmic buckets, eight per doubling, so percentiles of any number of
/// durations come from a few dozen counters that add up across hours, agents and nodes.
///
/// Bucket 0 holds durations of 0 ms; bucket `b ≥ 1` holds `[2^((b-1)/8), 2^(b/8))` ms. A
/// percentile is reported as its bucket's geometric middle, within 4.5% of the true duration.
public struct DurationHistogram: Sendable, Hashable {
    /// Counts by bucket; buckets never used are absent.
    public private(set) var counts: [Int: Int64] = [:]

    public init() {}

    /// How many durations were recorded.
    public var count: Int64 { counts.values.reduce(0, Self.saturatingSum) }

    /// Counts one more duration of `milliseconds` (negative ones as 0).
    public mutating func record(milliseconds: Int64) {
        let bucket = Self.bucket(of: milliseconds)
        counts[bucket] = Self.saturatingSum(counts[bucket, default: 0], 1)
    }

    /// Adds `other`'s counts to these, saturating at `Int64.max`.
    public mutating func merge(_ other: DurationHistogram) {
        for (bucket, count) in other.counts {
            counts[bucket] = Self.saturatingSum(counts[bucket, default: 0], count)
        }
    }

    /// The duration that a `fraction` (0…1) of the recorded durations do not exceed, in whole
    /// milliseconds; nil when none were recorded.
    public func percentile(_ fraction: Double) -> Int64? {
        let total = count
        guard total > 0 else { return nil }
        let rank = max(1, Int64((Double(total) * min(max(fraction, 0), 1)).rounded(.up)))
        var seen: Int64 = 0
        for bucket in counts.keys.sorted() {
            seen = Self.saturatingSum(seen, counts[bucket, default: 0])
            if seen >= rank { return Self.middle(of: bucket) }
        }
        return counts.keys.max().map(Self.middle(of:))
    }

    /// The stored form: `bucket:count` pairs by bucket, separated by commas (`""` when empty).
    public var text: String {
        counts.keys.sorted().map { "\($0):\(counts[$0, default: 0])" }.joined(separator: ",")
    }

    /// Reads ``text``; nil when it is not in that form.
    public init?(text: String) {
        guard !text.isEmpty else { return }
        for pair in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let bucket = Int(parts[0]), let count = Int64(parts[1]),
                (0...Self.lastBucket).contains(bucket), count >= 0
            else { return nil }
            counts[bucket] = Self.saturatingSum(counts[bucket, default: 0], count)
        }
    }

    /// The highest bucket: `Int64.max` ms falls in it.
    static let lastBucket = 8 * 63 + 1
    static let bucketsPerDoubling = 8.0

    static func bucket(of milliseconds: Int64) -> Int {
        guard milliseconds > 0 else { return 0 }
        return min(lastBucket, Int((log2(Double(milliseconds)) * bucketsPerDoubling).rounded(.down)) + 1)
    }

    /// The geometric middle of `bucket`'s range, rounded to whole milliseconds.
    static func middle(of bucket: Int) -> Int64 {
        guard bucket > 0 else { return 0 }
        let value = pow(2, (Double(bucket) - 0.5) / bucketsPerDoubling).rounded()
        return value >= Double(Int64.max) ? .max : Int64(value)
    }

    static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 { a.addingSaturated(b) }
}

extension Int64 {
    /// `self + other`, or `Int64.max` (`min`) where the sum would not fit: counters and amounts
    /// summed from events that stop at the limit rather than wrap.
    public func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
