import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import UAEFCore
import UAEFFakes
import UAEFLambda

/// The custom runtime's loop against the fake Runtime API over loopback HTTP: answers, failures,
/// deadlines, malformed invocations, init errors and a failing Runtime API.
@Suite("Lambda runtime loop")
struct LambdaRuntimeTests {
    /// Answers each event with itself, or fails when it is `"fail"`.
    struct Echo: LambdaHandler {
        func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer {
            if String(buffer: event) == #""fail""# { throw LambdaHandlerError(type: "Test.Failed", "asked to fail") }
            #expect(context.traceID.hasPrefix("Root=1-"))
            #expect(context.functionARN == FakeLambdaRuntime.functionARN)
            return event
        }
    }

    /// Sleeps far past any deadline, recording whether it was cancelled.
    final class Sleeper: LambdaHandler {
        let cancelled = Mutex(false)

        func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer {
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.withLock { $0 = true }
                throw error
            }
            return event
        }
    }

    /// Runs the fake and `LambdaRuntime.run` with `handler` beside `body`, which gets the fake's
    /// port; then stops both. The loop's error, if it ended by itself.
    @discardableResult
    func withRuntime(
        _ handler: @autoclosure @escaping @Sendable () throws -> any LambdaHandler, _ body: (Int) async throws -> Void
    ) async throws -> (any Error)? {
        let fake = FakeLambdaRuntime()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        return try await withThrowingTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                try await fake.run(port: 0) { continuation.yield($0) }
                return nil
            }
            guard let port = await ports.first(where: { _ in true }) else { return nil }
            let client = LambdaRuntimeClient(endpoint: "127.0.0.1:\(port)")
            let loop = Task { () -> (any Error)? in
                do {
                    // The environment stays as it is: other tests start processes meanwhile.
                    try await LambdaRuntime.run(
                        client: client, logger: Logger(label: "test"), exportingTraceID: false, makeHandler: handler)
                    return nil
                } catch {
                    return error
                }
            }
            // The loop and the client are stopped whether or not the body went well.
            let outcome: Result<Void, any Error>
            do {
                outcome = .success(try await body(port))
            } catch {
                outcome = .failure(error)
            }
            loop.cancel()
            let ended = await loop.value
            group.cancelAll()
            await client.shutdown()
            try outcome.get()
            return ended is CancellationError ? nil : ended
        }
    }

    /// Posts `event` to the fake's `/invoke`; the status, the function-error header and the body.
    func invoke(_ event: String, port: Int, timeout: Int = 30_000) async throws -> (Int, String?, JSONValue) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/invoke?timeout_ms=\(timeout)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: event))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (
            Int(response.status.code), response.headers.first(name: "X-Amz-Function-Error"),
            (try? JSONValue(jsonText: String(buffer: body))) ?? .null
        )
    }

    func post(_ path: String, _ body: String, port: Int) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/\(path)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    }

    @Test("answers go back as the invocation's response; a handler's error as its error, with its type")
    func answersAndErrors() async throws {
        try await withRuntime(Echo()) { port in
            let (status, functionError, body) = try await invoke(#"{"hello": "world"}"#, port: port)
            #expect(status == 200 && functionError == nil && body == ["hello": "world"])
            let (_, failed, error) = try await invoke(#""fail""#, port: port)
            #expect(failed == "Unhandled")
            #expect(error["errorType"] == "Test.Failed" && error["errorMessage"] == "asked to fail")
            // The loop goes on after a failure.
            #expect(try await invoke("[1]", port: port).2 == [1])
        }
    }

    @Test("a handler still working at the deadline is cancelled and the invocation fails with Runtime.DeadlineReached")
    func deadline() async throws {
        let sleeper = Sleeper()
        try await withRuntime(sleeper) { port in
            let started = ContinuousClock.now
            let (_, failed, error) = try await invoke("{}", port: port, timeout: 1_500)
            #expect(failed == "Unhandled" && error["errorType"] == "Runtime.DeadlineReached", "\(error)")
            // Answered at the deadline, long before the handler's sleep would have ended (with room
            // for a loaded machine).
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(sleeper.cancelled.withLock { $0 })
        }
    }

    @Test(
        "an invocation without a deadline header is failed by id and the loop goes on; a 500 from the Runtime API ends it"
    )
    func malformedAndFatal() async throws {
        let ended = try await withRuntime(Echo()) { port in
            try await post(
                "$fake/faults", #"{"kind": "omit_header", "header": "Lambda-Runtime-Deadline-Ms"}"#, port: port)
            let (_, failed, error) = try await invoke("{}", port: port)
            #expect(failed == "Unhandled" && error["errorType"] == "Runtime.MalformedInvocation", "\(error)")
            #expect(error["errorMessage"]?.stringValue?.contains("Lambda-Runtime-Deadline-Ms") == true)
            #expect(try await invoke("{}", port: port).2 == [:])
            try await post("$fake/faults", #"{"kind": "fail_next"}"#, port: port)
            _ = try? await invoke("{}", port: port, timeout: 200)
        }
        #expect((ended as? LambdaRuntimeError) == .refused(status: 500), "\(String(describing: ended))")
    }

    struct Broken: Error, CustomStringConvertible {
        var description: String { "no store configured" }
    }

    /// A handler that cannot be made.
    static func broken() throws -> any LambdaHandler { throw Broken() }

    @Test("a handler that cannot start is reported as an init error, and the loop ends with it")
    func initError() async throws {
        let ended = try await withRuntime(try Self.broken()) { port in
            var report: JSONValue = .null
            // Generous: the whole suite runs at once on two cores.
            let deadline = ContinuousClock.now + .seconds(30)
            while report == .null, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                // A request the loaded machine answers too late is asked again.
                guard
                    let response = try? await HTTPClient.shared.execute(
                        HTTPClientRequest(url: "http://127.0.0.1:\(port)/$fake/init-error"), timeout: .seconds(5)),
                    let body = try? await response.body.collect(upTo: 1 << 16)
                else { continue }
                if response.status == .ok { report = try JSONValue(jsonText: String(buffer: body)) }
            }
            #expect(report["errorType"] == "Runtime.InitError" && report["errorMessage"] == "no store configured")
        }
        #expect(ended.map { "\($0)" } == "no store configured")
    }
}
