import Foundation
import UAEFCore

/// Keeps the hourly analytics buckets up to date: reads the events after the stored cursor in
/// ledger order, counts them (``AnalyticsFold``) into the stored buckets, and saves buckets and
/// cursor in one transaction. Any number of processes may run it: the one whose cursor moved
/// first wins and the others count nothing twice.
public struct AnalyticsRollup: Sendable {
    public let store: any WorkflowStore
    /// Events read and counted per transaction.
    public var batchSize: Int

    public init(store: any WorkflowStore, batchSize: Int = 2_000) {
        self.store = store
        self.batchSize = batchSize
    }

    /// Counts the events after the cursor, at most `limit` of them; returns how many were counted
    /// (0 when the buckets are current, or when another process is counting the same events).
    @discardableResult
    public func catchUp(limit: Int = .max) async throws -> Int {
        var counted = 0
        while counted < limit {
            let from = try await store.analyticsCursor()
            let events = try await store.events(from: from, limit: min(batchSize, limit - counted))
            guard let last = events.last else { break }
            var fold = AnalyticsFold()
            for event in events { fold.add(event.event) }
            var buckets = fold.buckets
            for stored in try await store.analyticsBuckets(Array(buckets.keys)) {
                buckets[stored.id]?.merge(stored)
            }
            guard try await store.saveAnalytics(Array(buckets.values), cursor: from, to: last.seq + 1) else { break }
            counted += events.count
        }
        return counted
    }
}
