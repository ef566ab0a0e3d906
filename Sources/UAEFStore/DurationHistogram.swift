import Foundation

/// Durations counted in logarithmic buckets, eight per doubling, so percentiles of any number of
/// durations come from a few dozen counters that add up across hours, agents and nodes.
///
/// Bucket 0 holds durations of 0 ms; bucket `b ≥ 1` holds `[2^((b-1)/8), 2^(b/8))` ms. A
/// percentile is reported as its bucket's geometric middle, within 4.5% of the true duration.
public struct DurationHistogram: Sendable, Hashable {
    /// A used bucket and how many durations fell in it.
    public struct Entry: Sendable, Hashable {
        public var bucket: Int
        public var count: Int64
    }

    /// The used buckets in ascending order, each with a count above 0.
    public private(set) var entries: [Entry] = []

    public init() {}

    /// How many durations were recorded.
    public var count: Int64 { entries.reduce(0) { $0.addingSaturated($1.count) } }

    /// Counts one more duration of `milliseconds` (negative ones as 0).
    public mutating func record(milliseconds: Int64) {
        add(Entry(bucket: Self.bucket(of: milliseconds), count: 1))
    }

    /// Adds `other`'s counts to these, saturating at `Int64.max`.
    public mutating func merge(_ other: DurationHistogram) {
        guard !other.entries.isEmpty else { return }
        guard !entries.isEmpty else {
            entries = other.entries
            return
        }
        var merged: [Entry] = []
        merged.reserveCapacity(entries.count + other.entries.count)
        var mine = entries.startIndex
        var theirs = other.entries.startIndex
        while mine < entries.endIndex || theirs < other.entries.endIndex {
            let a = mine < entries.endIndex ? entries[mine] : nil
            let b = theirs < other.entries.endIndex ? other.entries[theirs] : nil
            if let a, let b, a.bucket == b.bucket {
                merged.append(Entry(bucket: a.bucket, count: a.count.addingSaturated(b.count)))
                mine += 1
                theirs += 1
            } else if let a, b == nil || a.bucket < b!.bucket {
                merged.append(a)
                mine += 1
            } else if let b {
                merged.append(b)
                theirs += 1
            }
        }
        entries = merged
    }

    /// The duration that a `fraction` (0…1) of the recorded durations do not exceed, in whole
    /// milliseconds; nil when none were recorded.
    public func percentile(_ fraction: Double) -> Int64? { percentiles([fraction])[0] }

    /// ``percentile(_:)`` of each of `fractions`, in one pass over the buckets.
    public func percentiles(_ fractions: [Double]) -> [Int64?] {
        let total = count
        guard total > 0, let last = entries.last else { return fractions.map { _ in nil } }
        return fractions.map { fraction in
            let rank = max(1, Int64((Double(total) * min(max(fraction, 0), 1)).rounded(.up)))
            var seen: Int64 = 0
            for entry in entries {
                seen = seen.addingSaturated(entry.count)
                if seen >= rank { return Self.middle(of: entry.bucket) }
            }
            return Self.middle(of: last.bucket)
        }
    }

    /// The stored form: `bucket:count` pairs by bucket, separated by commas (`""` when empty).
    public var text: String { entries.map { "\($0.bucket):\($0.count)" }.joined(separator: ",") }

    /// Reads ``text``; nil when it is not in that form (buckets ascending, each in range).
    public init?(text: String) {
        var entries: [Entry] = []
        var bucket: Int?
        var number: Int64 = 0
        var digits = 0
        /// Ends the number just read: a bucket before `:`, a count before `,` or the end.
        func end(bucketExpected: Bool) -> Bool {
            guard digits > 0, bucketExpected == (bucket == nil) else { return false }
            defer {
                number = 0
                digits = 0
            }
            guard let read = bucket else {
                guard number <= Self.lastBucket, (entries.last?.bucket ?? -1) < Int(number) else { return false }
                bucket = Int(number)
                return true
            }
            if number > 0 { entries.append(Entry(bucket: read, count: number)) }
            bucket = nil
            return true
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let (times, overflow) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflowAgain) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow, !overflowAgain else { return nil }
                number = sum
                digits += 1
            case UInt8(ascii: ":"): guard end(bucketExpected: true) else { return nil }
            case UInt8(ascii: ","): guard end(bucketExpected: false) else { return nil }
            default: return nil
            }
        }
        guard text.isEmpty || end(bucketExpected: false) else { return nil }
        self.entries = entries
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

    private mutating func add(_ entry: Entry) {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].bucket < entry.bucket { low = middle + 1 } else { high = middle }
        }
        if low < entries.count, entries[low].bucket == entry.bucket {
            entries[low].count = entries[low].count.addingSaturated(entry.count)
        } else {
            entries.insert(entry, at: low)
        }
    }
}

extension Int64 {
    /// `self + other`, or `Int64.max` (`min`) where the sum would not fit: counters and amounts
    /// summed from events that stop at the limit rather than wrap.
    public func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
