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

    /// The bytes a text or blob value binds.
    var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .utf8(let bytes), .blob(let bytes): bytes.count
        case .hash: 32
        case .integer, .null: 0
        }
    }
}

extension Statement {
    /// Binds `values` with SQLite's C API and steps the statement once.
    ///
    /// The state machine writes thousands of rows per commit; GRDB's general argument handling
    /// (boxing every value) costs more than SQLite itself there, so the inserts bind directly.
    /// The statement is left reset and unbound, as GRDB expects a cached statement to be.
    func executeFast(_ values: [BoundValue]) throws {
        try withBindings(values) { handle in
            let result = sqlite3_step(handle)
            guard result == SQLITE_DONE else { throw stepError(result) }
        }
    }

    /// Binds `values` and calls `row` with the statement handle for each result row, until it
    /// returns false, for readers that take columns straight from SQLite's buffers
    /// (`sqlite3_column_*`) on the ledger's million-row paths. The handle is valid only during the call.
    func forEachRowFast(_ values: [BoundValue], _ row: (OpaquePointer) throws -> Bool) throws {
        try withBindings(values) { handle in
            while true {
                let result = sqlite3_step(handle)
                if result == SQLITE_DONE { return }
                guard result == SQLITE_ROW else { throw stepError(result) }
                guard try row(handle) else { return }
            }
        }
    }

    /// Binds `values`, runs `body` with the statement handle, then resets and unbinds it.
    ///
    /// Text and blob bytes are copied once into one buffer on the stack and bound where they lie
    /// (`SQLITE_STATIC`); bound as transient, SQLite would allocate and copy each of them again.
    private func withBindings(_ values: [BoundValue], _ body: (OpaquePointer) throws -> Void) throws {
        let handle = sqliteStatement
        let size = values.reduce(0) { $0 + $1.byteCount }
        try withUnsafeTemporaryAllocation(byteCount: max(size, 1), alignment: 1) { arena in
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            var offset = 0
            /// Copies bytes into the arena and returns where they now lie.
            func place(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
                let target = UnsafeMutableRawBufferPointer(rebasing: arena[offset..<(offset + bytes.count)])
                target.copyMemory(from: bytes)
                offset += bytes.count
                return UnsafeRawBufferPointer(target)
            }
            for (position, value) in values.enumerated() {
                let index = Int32(position + 1)
                let code: Int32
                switch value {
                case .text(var text):
                    code = text.withUTF8 { Self.bindText(handle, index, place(UnsafeRawBufferPointer($0))) }
                case .utf8(let bytes): code = bytes.withUnsafeBytes { Self.bindText(handle, index, place($0)) }
                case .integer(let integer): code = sqlite3_bind_int64(handle, index, integer)
                case .blob(let bytes): code = bytes.withUnsafeBytes { Self.bindBlob(handle, index, place($0)) }
                case .hash(let hash): code = hash.withUnsafeBytes { Self.bindBlob(handle, index, place($0)) }
                case .null: code = sqlite3_bind_null(handle, index)
                }
                guard code == SQLITE_OK else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: code), message: "cannot bind parameter \(index)")
                }
            }
            try body(handle)
        }
    }

    /// `SQLITE_STATIC`: the bytes stay where they are until the statement is reset.
    private static let inPlace = unsafeBitCast(0, to: sqlite3_destructor_type.self)

    /// Binds a blob in place; an empty one stays a blob (a nil pointer would bind NULL).
    private static func bindBlob(_ handle: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
        return sqlite3_bind_blob(handle, index, base, Int32(bytes.count), inPlace)
    }

    /// Binds UTF-8 text in place; empty text stays text (a nil pointer would bind NULL).
    private static func bindText(_ handle: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return sqlite3_bind_text(handle, index, "", 0, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        return sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), inPlace)
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
