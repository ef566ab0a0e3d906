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
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .text(let text): code = sqlite3_bind_text(handle, index, text, -1, transient)
            case .integer(let integer): code = sqlite3_bind_int64(handle, index, integer)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient)
                }
            case .utf8(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_text(
                        handle, index, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count), transient)
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
        let result = sqlite3_step(handle)
        guard result == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(handle)))
            throw DatabaseError(resultCode: ResultCode(rawValue: result), message: message)
        }
    }
}
