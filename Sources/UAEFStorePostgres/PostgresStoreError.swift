import PostgresNIO

/// A PostgreSQL failure told in words a user can act on: the server's own message (with its
/// SQLSTATE and the constraint it names), or what went wrong with the connection; never the
/// query's values, nor the server's DETAIL, which repeats row values.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public let description: String
    /// The SQLSTATE code when the server reported the error (e.g. `23505` for a unique violation).
    public let sqlState: String?

    /// True when the server could not be reached or is starting or shutting down (no SQLSTATE, a
    /// connection exception `08…`, or `57P…`): trying again later may succeed.
    public var isUnreachable: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
    }

    /// Wraps `error` when it is PostgresNIO's; returns anything else unchanged.
    static func wrap(_ error: any Error, location: String) -> any Error {
        // PostgresNIO passes its pool's own errors on unwrapped (a connection that could not be
        // made for a while); their type lives in an underscored module this store does not import.
        if String(reflecting: type(of: error)).hasSuffix(".ConnectionPoolError") {
            return PostgresStoreError(
                description: "PostgreSQL at \(location): no connection could be made for a while (is the server up?)",
                sqlState: nil)
        }
        guard let error = error as? PSQLError else { return error }
        if let server = error.serverInfo {
            let message = server[.message] ?? "an error"
            let constraint = server[.constraintName].map { " (constraint \($0))" } ?? ""
            let state = server[.sqlState]
            return PostgresStoreError(
                description: "PostgreSQL at \(location) reported: \(message)\(constraint) [SQLSTATE \(state ?? "?")]",
                sqlState: state)
        }
        let cause =
            switch error.code {
            case .connectionError: "cannot connect (is the server running and the URL right?)"
            case .serverClosedConnection, .uncleanShutdown: "the server closed the connection"
            case .authMechanismRequiresPassword: "the server asks for a password; put it in the URL"
            case .sslUnsupported: "the server does not offer TLS; drop sslmode=require"
            case .poolClosed, .clientClosedConnection: "the connection pool is closed"
            default: "\(error.code)"
            }
        let underlying = error.underlying.map { ": \($0)" } ?? ""
        return PostgresStoreError(description: "PostgreSQL at \(location): \(cause)\(underlying)", sqlState: nil)
    }
}
