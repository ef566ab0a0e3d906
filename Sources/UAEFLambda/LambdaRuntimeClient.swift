import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import UAEFCore

/// A client of the AWS Lambda Runtime API (version 2018-06-01), the HTTP interface a custom
/// runtime uses inside the Lambda execution environment, written from AWS's "Using the Lambda
/// runtime API for custom runtimes" reference:
/// - `GET /2018-06-01/runtime/invocation/next` waits (with no timeout) for the next event; its
///   headers carry the request id, the deadline, the function's ARN and the X-Ray trace id.
/// - `POST …/invocation/{id}/response` returns the handler's answer; `POST …/invocation/{id}/error`
///   reports its failure; `POST /2018-06-01/runtime/init/error` reports a failed start.
/// - An answer of 500 means the environment is in a state the runtime cannot recover from: it
///   must exit.
public final class LambdaRuntimeClient: Sendable {
    /// `host:port` of the Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    public let endpoint: String
    private let http: HTTPClient
    /// How long a post of a response or error may take.
    static let postTimeout = TimeAmount.seconds(30)

    public init(endpoint: String) {
        self.endpoint = endpoint
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1
        configuration.decompression = .disabled
        // The Runtime API's calls (the long poll for the next invocation, posting answers) are
        // plumbing, not work: no spans for them.
        configuration.tracing.tracer = nil
        http = HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async { try? await http.shutdown() }

    /// The next invocation, waiting as long as it takes.
    public func next(logger: Logger) async throws -> LambdaInvocation {
        let (response, body) = try await exchange("GET", "invocation/next", body: nil, timeout: nil, logger: logger)
        guard response.status == .ok else { throw LambdaRuntimeError.refused(status: Int(response.status.code)) }
        return try LambdaInvocation(headers: response.headers, event: body)
    }

    /// Returns `body` as the answer to invocation `requestID`.
    public func respond(to requestID: String, with body: ByteBuffer, logger: Logger) async throws {
        try await post("invocation/\(requestID)/response", body: body, errorType: nil, logger: logger)
    }

    /// Reports that invocation `requestID` failed with `error`.
    public func fail(_ requestID: String, with error: LambdaErrorReport, logger: Logger) async throws {
        try await post("invocation/\(requestID)/error", body: error.body, errorType: error.type, logger: logger)
    }

    /// Reports that the runtime could not start; the process exits afterwards.
    public func failInitialization(with error: LambdaErrorReport, logger: Logger) async throws {
        try await post("init/error", body: error.body, errorType: error.type, logger: logger)
    }

    private func post(_ path: String, body: ByteBuffer, errorType: String?, logger: Logger) async throws {
        let (response, _) = try await exchange(
            "POST", path, body: body, timeout: Self.postTimeout, logger: logger, errorType: errorType)
        // 202 Accepted; a 4xx (the invocation is gone, the payload too large) is reported to the
        // caller, a 500 ends the runtime.
        guard response.status == .accepted else {
            throw LambdaRuntimeError.refused(status: Int(response.status.code))
        }
    }

    private func exchange(
        _ method: String, _ path: String, body: ByteBuffer?, timeout: TimeAmount?, logger: Logger,
        errorType: String? = nil
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        var request = HTTPClientRequest(url: "http://\(endpoint)/2018-06-01/runtime/\(path)")
        request.method = HTTPMethod(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        if let errorType { request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: errorType) }
        do {
            // The wait for the next event has no deadline: the environment may be frozen in it.
            let response = try await http.execute(request, timeout: timeout ?? .hours(24 * 365), logger: logger)
            let body = try await response.body.collect(upTo: LambdaInvocation.maximumEventBytes)
            return (response, body)
        } catch {
            throw LambdaRuntimeError.unreachable("\(method) /2018-06-01/runtime/\(path): \(error)")
        }
    }
}

/// One event handed to the function, with what the Runtime API said about it.
public struct LambdaInvocation: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`.
    public var requestID: String
    /// `Lambda-Runtime-Deadline-Ms`: when the invocation times out.
    public var deadline: Date
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    public var functionARN: String
    /// `Lambda-Runtime-Trace-Id`: the X-Ray trace header (`Root=…;Parent=…;Sampled=…`).
    public var traceID: String
    public var event: ByteBuffer

    /// The largest event read: 6 MB, Lambda's limit for a synchronous invocation's payload.
    public static let maximumEventBytes = 6 * 1024 * 1024

    /// Reads the invocation's headers; every one of the four is required.
    public init(headers: HTTPHeaders, event: ByteBuffer) throws {
        let id = headers.first(name: "Lambda-Runtime-Aws-Request-Id")
        guard let id, !id.isEmpty, id.utf8.count <= 128, id.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 47 })
        else {
            throw LambdaRuntimeError.malformedInvocation(
                requestID: nil,
                "the request id \((id ?? "").prefix(40).debugDescription) is missing or not printable ASCII without /")
        }
        func header(_ name: String) throws -> String {
            guard let value = headers.first(name: name), !value.isEmpty else {
                throw LambdaRuntimeError.malformedInvocation(requestID: id, "the invocation has no \(name) header")
            }
            return value
        }
        requestID = id
        let deadlineText = try header("Lambda-Runtime-Deadline-Ms")
        guard let milliseconds = Int64(deadlineText) else {
            throw LambdaRuntimeError.malformedInvocation(
                requestID: id,
                "Lambda-Runtime-Deadline-Ms \(deadlineText.prefix(40).debugDescription) is not milliseconds since 1970")
        }
        deadline = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        functionARN = try header("Lambda-Runtime-Invoked-Function-Arn")
        traceID = try header("Lambda-Runtime-Trace-Id")
        self.event = event
    }
}

/// The JSON body of a reported failure: `{"errorMessage", "errorType", "stackTrace"}`, with the
/// type also sent as `Lambda-Runtime-Function-Error-Type`.
public struct LambdaErrorReport: Sendable {
    public var type: String
    public var message: String

    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    var body: ByteBuffer {
        let object: JSONValue = ["errorMessage": .string(message), "errorType": .string(type), "stackTrace": []]
        return ByteBuffer(string: object.jsonText)
    }
}

/// What went wrong talking to the Runtime API.
public enum LambdaRuntimeError: Error, CustomStringConvertible, Equatable {
    /// The API could not be reached.
    case unreachable(String)
    /// It answered with this status instead of accepting (500: the runtime must exit).
    case refused(status: Int)
    /// An invocation lacked a header or had a bad one (`requestID` when that one was readable).
    case malformedInvocation(requestID: String?, String)

    public var description: String {
        switch self {
        case .unreachable(let detail): "the Lambda Runtime API cannot be reached: \(detail)"
        case .refused(let status):
            status == 500
                ? "the Lambda Runtime API answered 500: the environment cannot recover, so the runtime exits"
                : "the Lambda Runtime API answered \(status)"
        case .malformedInvocation(_, let detail): "a malformed invocation: \(detail)"
        }
    }
}
