import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real, throwaway PostgreSQL server for tests: `initdb` and `pg_ctl` into a temporary folder,
/// listening on a free loopback port, removed when the test process exits.
///
/// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that
/// Debian's package creates (scripts/test installs the package when it is missing). Durability
/// settings are off: the tests exercise UAEF's behaviour, not the disk's.
public final class PostgresTestServer: Sendable {
    /// The folder holding the cluster, its socket and its log.
    public let directory: String
    public let port: Int
    private let binaries: String

    /// The server every test in this process shares, started on first use; each test takes its
    /// own database with ``makeDatabase()``.
    public static func shared() throws -> PostgresTestServer { try sharedServer.get() }

    private static let sharedServer: Result<PostgresTestServer, any Error> = {
        let result = Result { try PostgresTestServer() }
        if case .success = result { atexit { try? PostgresTestServer.removeShared() } }
        return result
    }()

    private static func removeShared() throws { try sharedServer.get().remove() }

    /// Creates and starts a new server.
    public init() throws {
        binaries = try Self.findBinaries()
        directory = try Self.makeDirectory()
        port = try freeLoopbackPort()
        try Self.tool(
            binaries + "/initdb",
            ["-D", directory + "/data", "-A", "trust", "-U", "uaef", "-E", "UTF8", "--locale=C", "--no-sync"])
        try start()
    }

    /// Starts the server (again, after ``stop()``).
    public func start() throws {
        let options = [
            "-p \(port)", "-k \(directory)", "-c listen_addresses=127.0.0.1", "-c fsync=off",
            "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=300",
        ]
        try Self.tool(
            binaries + "/pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-o", options.joined(separator: " "),
                "start",
            ])
    }

    /// Stops the server at once (clients see their connections drop).
    public func stop() throws {
        try Self.tool(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"])
    }

    /// Stops the server and deletes its folder.
    public func remove() throws {
        try? Self.tool(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try FileManager.default.removeItem(atPath: directory)
    }

    /// A new, empty database; returns its store URL.
    public func makeDatabase() throws -> String {
        let name = "uaef_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try Self.tool(
            binaries + "/psql",
            [
                "-h", "127.0.0.1", "-p", String(port), "-U", "uaef", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                "-c", "CREATE DATABASE \(name)",
            ])
        return "postgres://uaef@127.0.0.1:\(port)/\(name)"
    }

    /// Runs one SQL statement with `psql` in the database a store URL of ``makeDatabase()`` names,
    /// and returns what it printed (unaligned, tuples only). Synchronous, so tests can run it on
    /// a thread of their own, whatever Swift concurrency's threads are busy with.
    public func query(_ sql: String, in storeURL: String) throws -> String {
        let database = String(storeURL.split(separator: "/").last ?? "")
        return try Self.tool(
            binaries + "/psql",
            [
                "-h", "127.0.0.1", "-p", String(port), "-U", "uaef", "-d", database, "-tA", "-v", "ON_ERROR_STOP=1",
                "-c", sql,
            ]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The newest installed server's `bin` folder, or `$UAEF_TEST_PG_BIN`.
    private static func findBinaries() throws -> String {
        if let override = ProcessInfo.processInfo.environment["UAEF_TEST_PG_BIN"] { return override }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb")
        else {
            throw TestServerError(
                "no PostgreSQL server under \(root)/*/bin: install it (apt-get install postgresql; scripts/test does) or set UAEF_TEST_PG_BIN"
            )
        }
        return "\(root)/\(newest)/bin"
    }

    /// A temporary folder the server's user owns.
    private static func makeDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw TestServerError("running as root, and there is no postgres user to run the server as")
            }
            guard chown(path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw TestServerError("cannot give \(path) to the postgres user (errno \(errno))")
            }
        }
        return path
    }

    /// Runs a PostgreSQL tool (as the postgres user when we are root); throws with its output when it fails.
    /// The end of `pg_ctl start` is seen although the server it leaves running goes on: a
    /// ``ChildProcess`` is waited for with `waitpid`, not by its descriptors closing.
    @discardableResult
    private static func tool(_ path: String, _ arguments: [String]) throws -> String {
        let command =
            getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] + arguments : [path] + arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-pg-tool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let child = ChildProcess()
        child.executableURL = URL(fileURLWithPath: command[0])
        child.arguments = Array(command.dropFirst())
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = handle
        child.standardError = handle
        do {
            try child.run()
        } catch {
            throw TestServerError("cannot start \(command[0]): \(error)")
        }
        child.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard child.terminationReason == .exit, child.terminationStatus == 0 else {
            throw TestServerError(
                "\(path) \(arguments.joined(separator: " ")) failed (status \(child.terminationStatus)): \(text)")
        }
        return text
    }
}

/// Runs `body` on a thread of its own and waits for it: for test choreography (sleep, kill,
/// restart) whose timing must not depend on Swift concurrency's few shared threads, which other
/// tests may be blocking.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// A test server that could not be set up.
public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
public func freeLoopbackPort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw TestServerError("socket() failed: errno \(errno)") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            guard bind(socketFD, socketAddress, length) == 0 else { return false }
            return getsockname(socketFD, socketAddress, &length) == 0
        }
    }
    guard bound else { throw TestServerError("cannot bind a loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
