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
        var from = try await store.analyticsCursor()
        while counted < limit {
            let scan = try await store.scanLedger(
                from: from, limit: min(batchSize, limit - counted), into: AnalyticsScan())
            guard let last = scan.last else { break }
            var buckets = scan.fold.buckets
            for stored in try await store.analyticsBuckets(Array(buckets.keys)) {
                buckets[stored.id]?.merge(stored)
            }
            guard try await store.saveAnalytics(Array(buckets.values), cursor: from, to: last + 1) else { break }
            counted += scan.visited
            from = last + 1
        }
        return counted
    }
}

/// Counts stored events as the store reads them: an event's type is compared in place, and only
/// the counted types have their time and data decoded (payloads never are). An event whose time
/// or data cannot be read is passed over, so that one bad row never stops the counting.
struct AnalyticsScan: LedgerScan {
    var fold = AnalyticsFold()
    var visited = 0
    var last: Int64?

    private static let counted = AnalyticsFold.countedTypes.map { Array($0.utf8) }

    mutating func visit(_ event: StoredLedgerEvent) throws -> Bool {
        visited += 1
        last = event.seq
        guard Self.counted.contains(where: { $0.elementsEqual(event.type) }) else { return true }
        let time = String(decoding: event.time, as: UTF8.self)
        guard let date = Timestamp.parse(time),
            let data = try? JSONValue(jsonData: Data(event.canonicalData)).objectValue
        else { return true }
        fold.add(
            type: String(decoding: event.type, as: UTF8.self), tenant: String(decoding: event.tenant, as: UTF8.self),
            time: date, data: data)
        return true
    }
}
