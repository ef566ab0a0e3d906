import GRDB
import GRDBSQLite
import UAEFLedger

/// A value bound to a statement parameter on the hot write path.
enum BoundValue {
    case text(String)
    /// Text already encoded as UTF-8, bound without making a String.
    case utf8([UInt8])
    case integer(Int64)
    case blob([UInt8])
    /// A 32-byte hash, bound as a blob.
    case hash(MerkleHash)
    case null

    init(_ text: String?) { self = text.map(BoundValue.text) ?? .null }
    init(_ integer: Int64?) { self = integer.map(BoundValue.integer) ?? .null }
    init(_ integer: Int?) { self = integer.map { .integer(Int64($0)) } ?? .null }
}

extension Statement {
    /// Binds `values` with SQLite's C API and steps the statement once.
    ///
    /// The state machine writes thousands of rows per commit; GRDB's general argument handling
    /// (boxing every value) costs more than SQLite itself there, so the inserts bind directly.
    /// The statement is left reset and unbound, as GRDB expects a cached statement to be.
    func executeFast(_ values: [BoundValue]) throws {
        let handle = sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(values)
        let result = sqlite3_step(handle)
        guard result == SQLITE_DONE else { throw stepError(result) }
    }

    /// Binds `values` and calls `row` with the statement handle for each result row, until it
    /// returns false, for readers that take columns straight from SQLite's buffers
    /// (`sqlite3_column_*`) on the ledger's million-row paths. The handle is valid only during the call.
    func forEachRowFast(_ values: [BoundValue], _ row: (OpaquePointer) throws -> Bool) throws {
        let handle = sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(values)
        while true {
            let result = sqlite3_step(handle)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw stepError(result) }
            guard try row(handle) else { return }
        }
    }

    private func bind(_ values: [BoundValue]) throws {
        let handle = sqliteStatement
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .text(var text):
                // The UTF-8 bytes with their length: no C string is made.
                code = text.withUTF8 { Self.bindText(handle, index, UnsafeRawBufferPointer($0)) }
            case .utf8(let bytes): code = bytes.withUnsafeBytes { Self.bindText(handle, index, $0) }
            case .integer(let integer): code = sqlite3_bind_int64(handle, index, integer)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient)
                }
            case .hash(let hash):
                code = hash.withUnsafeBytes {
                    sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient)
                }
            case .null: code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind parameter \(index)")
            }
        }
    }

    /// Binds UTF-8 text; empty text stays text (a nil pointer would bind NULL).
    private static func bindText(_ handle: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return sqlite3_bind_text(handle, index, "", 0, transient)
        }
        return sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
    }

    private func stepError(_ result: Int32) -> DatabaseError {
        let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(sqliteStatement)))
        return DatabaseError(resultCode: ResultCode(rawValue: result), message: message)
    }
}

/// Column readers over a row handle from ``Statement/forEachRowFast(_:_:)``.
enum FastColumn {
    /// The column's bytes (text or blob) without copying; empty for NULL.
    static func bytes(_ handle: OpaquePointer, _ column: Int32) -> UnsafeRawBufferPointer {
        // SQLite's rule: ask for the pointer first, then the size.
        guard let base = sqlite3_column_blob(handle, column) else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: base, count: Int(sqlite3_column_bytes(handle, column)))
    }

    static func isNull(_ handle: OpaquePointer, _ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    static func int64(_ handle: OpaquePointer, _ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
}
