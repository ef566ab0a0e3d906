import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFCore

/// A fake of the AWS Lambda Runtime API (2018-06-01) for running a custom runtime's `bootstrap`
/// on this machine, written from AWS's "Using the Lambda runtime API for custom runtimes"
/// reference (the endpoints, headers and status codes named below are the reference's):
/// - `GET /2018-06-01/runtime/invocation/next` waits until an event is invoked and answers it
///   with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
///   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
/// - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error` answer 202, or 400
///   for an id that is not in flight; `POST /2018-06-01/runtime/init/error` answers 202.
///
/// Not the Runtime API's: `POST /invoke` (optionally `?timeout_ms=N`, default 30000) queues its
/// body as an event and answers as Lambda's Invoke API does once the function has answered: 200
/// with the answer, or 200 with the error body and `X-Amz-Function-Error: Unhandled`; 504 when
/// nothing answered by the deadline plus 5 s. `GET /$fake/init-error` shows a reported init error
/// (404 when none), and `POST /$fake/faults` with `{"kind": "fail_next"}` makes the next `/next`
/// answer 500, or `{"kind": "omit_header", "header": NAME}` leaves that header off the next one.
public struct FakeLambdaRuntime: Sendable {
    public static let functionARN = "arn:aws:lambda:us-east-1:123456789012:function:uaef"
    let state = FakeLambdaState()
    /// Called as each `/next` request arrives (for timing a function's start).
    let onNext: @Sendable () -> Void

    public init(onNext: @escaping @Sendable () -> Void = {}) { self.onNext = onNext }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        let state = state
        let onNext = onNext
        router.get("2018-06-01/runtime/invocation/next") { _, _ in
            onNext()
            let (next, fault) = await state.next()
            guard let invocation = next else {
                return FakeHTTP.json(
                    500,
                    ["errorMessage": "the execution environment failed (injected fault)", "errorType": "ServiceError"])
            }
            var response = Response(status: .ok, body: ResponseBody(byteBuffer: invocation.event))
            response.headers[.contentType] = "application/json"
            let headers: [(String, String)] = [
                ("Lambda-Runtime-Aws-Request-Id", invocation.id),
                ("Lambda-Runtime-Deadline-Ms", String(invocation.deadlineMilliseconds)),
                ("Lambda-Runtime-Invoked-Function-Arn", Self.functionARN),
                ("Lambda-Runtime-Trace-Id", invocation.traceID),
            ]
            for (name, value) in headers {
                if case .omitHeader(let omitted) = fault, omitted.lowercased() == name.lowercased() { continue }
                if let field = HTTPField.Name(name) { response.headers[field] = value }
            }
            return response
        }
        for outcome in ["response", "error"] {
            router.post("2018-06-01/runtime/invocation/:id/\(outcome)") { request, context in
                let id = context.parameters.get("id") ?? ""
                let body = try await request.body.collect(upTo: 6 * 1024 * 1024)
                let errorType = request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
                let answer: FakeLambdaState.Answer =
                    outcome == "response" ? .response(body) : .error(body, type: errorType ?? "Unhandled")
                guard await state.answer(id, with: answer) else {
                    return FakeHTTP.json(
                        400, ["errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"])
                }
                return FakeHTTP.json(202, ["status": "OK"])
            }
        }
        router.post("2018-06-01/runtime/init/error") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            await state.failInitialization(String(buffer: body))
            return FakeHTTP.json(202, ["status": "OK"])
        }
        router.post("invoke") { request, _ in
            let query = FakeHTTP.queryItems(request.uri.query ?? "")
            let timeout = query["timeout_ms"].flatMap(Int64.init).map { min(max($0, 1), 900_000) } ?? 30_000
            let event = try await request.body.collect(upTo: 6 * 1024 * 1024)
            switch await state.invoke(event, timeoutMilliseconds: timeout) {
            case .response(let body)?:
                var response = Response(status: .ok, body: ResponseBody(byteBuffer: body))
                response.headers[.contentType] = "application/json"
                return response
            case .error(let body, _)?:
                var response = Response(status: .ok, body: ResponseBody(byteBuffer: body))
                response.headers[.contentType] = "application/json"
                response.headers[HTTPField.Name("X-Amz-Function-Error")!] = "Unhandled"
                return response
            case nil:
                return FakeHTTP.json(504, ["errorMessage": "the function did not answer in time"])
            }
        }
        router.get("$fake/init-error") { _, _ in
            guard let error = await state.initError else { return FakeHTTP.json(404, ["error": "none reported"]) }
            return FakeHTTP.json(200, (try? JSONValue(jsonText: error)) ?? .string(error))
        }
        router.post("$fake/faults") { request, _ in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let value = try? JSONValue(jsonText: text)
            let kind = value?["kind"]?.stringValue
            if kind == "fail_next" {
                await state.inject(.failNext)
            } else if kind == "omit_header", let header = value?["header"]?.stringValue {
                await state.inject(.omitHeader(header))
            } else {
                return FakeHTTP.json(400, ["error": "expected {kind: fail_next} or {kind: omit_header, header: NAME}"])
            }
            return FakeHTTP.json(200, ["faults": 1])
        }
        var logger = Logger(label: "fake-lambda-runtime")
        logger.logLevel = .warning
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        // Calls of /next still waiting would keep the server from stopping: they get a 500.
        try await withTaskCancellationHandler {
            try await application.runService(gracefulShutdownSignals: [])
        } onCancel: {
            Task { await state.close() }
        }
    }
}

/// The fake's invocations: queued until the function asks for the next, then in flight until it
/// answers.
actor FakeLambdaState {
    struct Invocation {
        var id: String
        var event: ByteBuffer
        var deadlineMilliseconds: Int64
        var traceID: String
    }

    enum Answer {
        case response(ByteBuffer)
        case error(ByteBuffer, type: String)
    }

    enum Fault: Equatable {
        case failNext
        case omitHeader(String)
    }

    private var queued: [Invocation] = []
    /// Calls of `/next` waiting for an invocation (nil: answer 500).
    private var waiting: [CheckedContinuation<Invocation?, Never>] = []
    private var inFlight: [String: CheckedContinuation<Answer?, Never>] = [:]
    private var faults: [Fault] = []
    private var count = 0
    private(set) var initError: String?

    /// Applies `fault` to the next `/next`: at once to one already waiting for `failNext`.
    func inject(_ fault: Fault) {
        if fault == .failNext, !waiting.isEmpty {
            waiting.removeFirst().resume(returning: nil)
        } else {
            faults.append(fault)
        }
    }

    func failInitialization(_ error: String) { initError = error }

    /// The next invocation, waiting for one, and the fault to apply to its answer; nil for one
    /// that is to fail.
    func next() async -> (Invocation?, Fault?) {
        if faults.first == .failNext {
            faults.removeFirst()
            return (nil, .failNext)
        }
        let invocation: Invocation?
        if queued.isEmpty {
            invocation = await withCheckedContinuation { waiting.append($0) }
        } else {
            invocation = queued.removeFirst()
        }
        guard let invocation else { return (nil, .failNext) }
        if case .omitHeader? = faults.first { return (invocation, faults.removeFirst()) }
        return (invocation, nil)
    }

    /// Queues `event`, due in `timeoutMilliseconds`; the function's answer, or nil when none came
    /// by the deadline and 5 s more.
    func invoke(_ event: ByteBuffer, timeoutMilliseconds: Int64) async -> Answer? {
        count += 1
        let id = String(format: "8476a536-e9f4-11e8-9739-%012d", count)
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + timeoutMilliseconds
        let invocation = Invocation(
            id: id, event: event, deadlineMilliseconds: deadline,
            traceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        return await withCheckedContinuation { continuation in
            inFlight[id] = continuation
            if waiting.isEmpty {
                queued.append(invocation)
            } else {
                waiting.removeFirst().resume(returning: invocation)
            }
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(timeoutMilliseconds + 5_000))
                await self?.expire(id)
            }
        }
    }

    /// Records the answer to invocation `id`; false when it is not in flight.
    func answer(_ id: String, with answer: Answer) -> Bool {
        guard let continuation = inFlight.removeValue(forKey: id) else { return false }
        continuation.resume(returning: answer)
        return true
    }

    /// Answers every waiting `/next` with a 500 and every waiting invoke with nothing.
    func close() {
        for waiter in waiting { waiter.resume(returning: nil) }
        waiting = []
        for (_, continuation) in inFlight { continuation.resume(returning: nil) }
        inFlight = [:]
    }

    private func expire(_ id: String) {
        queued.removeAll { $0.id == id }
        inFlight.removeValue(forKey: id)?.resume(returning: nil)
    }
}
