import Logging
import PostgresNIO

/// Many rows in one INSERT statement, every value a bind parameter: `VALUES ($1, $2), ($3, $4)…`,
/// split into statements under PostgreSQL's limit of 65,535 parameters.
enum BulkInsert {
    /// Inserts `rows` with `statement` (`INSERT INTO t (a, b)`), `width` values per row bound by
    /// `bind`, followed by `suffix` (an `ON CONFLICT` clause, say).
    static func run<Row>(
        _ rows: [Row], _ statement: String, width: Int, suffix: String = "", on connection: PostgresConnection,
        logger: Logger, bind: (Row, inout PostgresBindings) -> Void
    ) async throws {
        let rowsPerStatement = 60_000 / width
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(rows.count, start + rowsPerStatement)]
            var bindings = PostgresBindings(capacity: chunk.count * width)
            var sql = statement + " VALUES "
            sql.reserveCapacity(sql.utf8.count + chunk.count * width * 8 + suffix.utf8.count)
            for (offset, row) in chunk.enumerated() {
                sql += offset == 0 ? "(" : ", ("
                let first = offset * width + 1
                sql += (first..<first + width).map { "$\($0)" }.joined(separator: ", ")
                sql += ")"
                bind(row, &bindings)
            }
            sql += suffix
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            start += chunk.count
        }
    }
}

extension Array {
    /// The elements with duplicate keys removed, the last of each kept, in order of first appearance:
    /// what a sequence of upserts of the same rows leaves behind.
    func keepingLast<Key: Hashable>(by key: (Element) -> Key) -> [Element] {
        var position: [Key: Int] = [:]
        var result: [Element] = []
        for element in self {
            let elementKey = key(element)
            if let index = position[elementKey] {
                result[index] = element
            } else {
                position[elementKey] = result.count
                result.append(element)
            }
        }
        return result
    }
}
