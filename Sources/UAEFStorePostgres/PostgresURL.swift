import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://user:password@host:port/database` store URL, checked and split.
public struct PostgresURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// `?sslmode=require` turns TLS on (verifying the server); the default is plain TCP, for loopback.
    public var requireTLS: Bool

    /// Parses `text`; the error says what part is wrong and what would be valid.
    public init(_ text: String) throws(PostgresURLError) {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let components = URLComponents(string: text)
        else { throw PostgresURLError(url: text, problem: "expected postgres://user:password@host:port/database") }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresURLError(url: text, problem: "it names no host (postgres://user@HOST:5432/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError(url: text, problem: "it names no user (postgres://USER@host:5432/database)")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError(url: text, problem: "it names no database (postgres://user@host:5432/DATABASE)")
        }
        var requireTLS = false
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", "disable"?): requireTLS = false
            case ("sslmode", "require"?), ("sslmode", "verify-full"?): requireTLS = true
            default:
                throw PostgresURLError(
                    url: text,
                    problem: "unknown parameter \(item.name)=\(item.value ?? ""); valid: sslmode=disable|require")
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.database = database
        self.requireTLS = requireTLS
    }

    /// The URL with its password hidden, for messages and logs.
    public var redacted: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
    }

    func clientConfiguration() -> PostgresClient.Configuration {
        PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
    }
}

/// A store URL that is not a valid PostgreSQL URL.
public struct PostgresURLError: Error, CustomStringConvertible {
    public let url: String
    public let problem: String

    public var description: String {
        // Never echo a password.
        let shown = url.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
        return "--store \(shown): \(problem)"
    }
}
