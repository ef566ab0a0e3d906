import Logging
import PostgresNIO

/// Many rows in one INSERT statement whose every column is one array parameter:
/// `INSERT INTO t (a, b) SELECT * FROM unnest($1, $2)`. The statement text and its parse cost stay
/// the same however many rows it carries, and values travel in PostgreSQL's binary array format.
enum BulkInsert {
    /// Inserts `rows` with `statement` (`INSERT INTO t (a, b)`), each row's `width` values bound by
    /// `bind` in column order, followed by `suffix` (an `ON CONFLICT` clause, say).
    static func run<Row>(
        _ rows: [Row], _ statement: String, width: Int, suffix: String = "", on connection: PostgresConnection,
        logger: Logger, bind: (Row, inout ColumnBindings) -> Void
    ) async throws {
        guard !rows.isEmpty else { return }
        var columns = ColumnBindings(width: width)
        for row in rows { bind(row, &columns) }
        var bindings = PostgresBindings(capacity: width)
        for column in columns.columns { bindings.append(column) }
        let parameters = (1...width).map { "$\($0)" }.joined(separator: ", ")
        let sql = statement + " SELECT * FROM unnest(\(parameters))" + suffix
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }
}

/// The values of a bulk insert, appended row by row and kept column by column.
struct ColumnBindings {
    fileprivate var columns: [ColumnArray]
    private var next = 0

    init(width: Int) { columns = Array(repeating: ColumnArray(), count: width) }

    /// Appends the next value of the current row (nil: NULL).
    mutating func append<Value: PostgresArrayEncodable & PostgresNonThrowingEncodable>(_ value: Value?) {
        columns[next].append(value)
        next = (next + 1) % columns.count
    }
}

/// One column's values as a one-dimensional PostgreSQL array parameter in the binary format of
/// `array_send` (header, then each element as a length and its bytes, -1 for NULL), which
/// PostgresNIO's own array encoding cannot do for NULL elements.
private struct ColumnArray: PostgresDynamicTypeEncodable {
    var psqlType = PostgresDataType.textArray
    var psqlFormat: PostgresFormat { .binary }
    private var elementType = PostgresDataType.text
    private var elements = ByteBuffer()
    private var count: Int32 = 0
    private var hasNull = false

    mutating func append<Value: PostgresArrayEncodable & PostgresNonThrowingEncodable>(_ value: Value?) {
        // Every value of a column has the same Swift type, which names the element type.
        psqlType = Value.psqlArrayType
        elementType = Value.psqlType
        count += 1
        guard let value else {
            hasNull = true
            elements.writeInteger(-1, as: Int32.self)
            return
        }
        let lengthAt = elements.writerIndex
        elements.writeInteger(0, as: Int32.self)
        value.encode(into: &elements, context: .default)
        elements.setInteger(Int32(elements.writerIndex - lengthAt - 4), at: lengthAt)
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        buffer.writeInteger(1, as: Int32.self)  // dimensions
        buffer.writeInteger(hasNull ? 1 : 0, as: Int32.self)
        buffer.writeInteger(elementType.rawValue)
        buffer.writeInteger(count, as: Int32.self)  // length of the dimension
        buffer.writeInteger(1, as: Int32.self)  // its lower bound
        buffer.writeImmutableBuffer(elements)
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
