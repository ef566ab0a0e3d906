import Synchronization

/// A fake service that serves on a loopback port until cancelled.
public protocol LoopbackFake: Sendable {
    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    func run(host: String, port: Int, onListening: @escaping @Sendable (Int) -> Void) async throws
}

extension LoopbackFake {
    /// Runs `body` with the fake serving on a free loopback port (given to `body`), then stops it.
    public func serving(_ body: (Int) async throws -> Void) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await run(host: "127.0.0.1", port: 0) { continuation.yield($0) } }
            guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
            try await body(port)
            group.cancelAll()
        }
    }
}

extension FakeSAPServer: LoopbackFake {}
extension FakeOracleServer: LoopbackFake {}
extension FakeSlackServer: LoopbackFake {}
extension FakeTeamsWorkflow: LoopbackFake {}

/// A fake's mutable state, shared by the copies of its value that its routes hold.
final class FakeState<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { state.withLock { body(&$0) } }
}
extension FakeJiraServer: LoopbackFake {}
