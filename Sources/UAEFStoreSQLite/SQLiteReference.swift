import Foundation
import GRDB
import UAEFCore

/// What this machine's SQLite can do at best, measured on a throwaway file beside a benchmark's
/// store and in the same durability mode (WAL, `synchronous = FULL`): the reference a benchmark's
/// figures are divided by, so they compare across days when the machine's fsync and CPU speed
/// wander.
public enum SQLiteReference {
    /// The median time of one fsync'd commit of a one-row insert, in seconds (of `commits`).
    public static func commitSeconds(in directory: String, commits: Int = 200) throws -> Double {
        let queue = try database(in: directory, named: "commit")
        var times: [Double] = []
        for index in 0..<commits {
            let start = ContinuousClock.now
            try queue.write { db in try db.execute(sql: "INSERT INTO reference (value) VALUES (?)", arguments: [index])
            }
            times.append(seconds(ContinuousClock.now - start))
        }
        return times.sorted()[times.count / 2]
    }

    /// One-row inserts a second through one prepared statement, `rows` of them in one fsync'd
    /// transaction: how fast a writer can add rows at all.
    public static func insertsPerSecond(in directory: String, rows: Int = 200_000) throws -> Double {
        let queue = try database(in: directory, named: "inserts")
        let payload = String(repeating: "x", count: 200)
        let start = ContinuousClock.now
        try queue.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO reference (value, body) VALUES (?, ?)")
            for index in 0..<rows { try statement.execute(arguments: [index, payload]) }
        }
        return Double(rows) / seconds(ContinuousClock.now - start)
    }

    private static func database(in directory: String, named name: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: directory + "/reference-\(name).db", configuration: configuration)
        try queue.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS reference (value INTEGER, body TEXT)")
        }
        return queue
    }

    private static func seconds(_ duration: Duration) -> Double {
        duration.timeInterval
    }
}
