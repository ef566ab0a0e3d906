import Foundation
import Logging
import NIOCore

/// What a handler knows of the invocation it handles.
public struct LambdaContext: Sendable {
    public var requestID: String
    public var functionARN: String
    /// The X-Ray trace header, also in the environment as `_X_AMZN_TRACE_ID` while it runs.
    public var traceID: String
    /// When Lambda ends the invocation.
    public var deadline: Date
    /// Tagged with the request and trace ids.
    public var logger: Logger

    /// The time left before the deadline.
    public var remaining: Duration {
        .milliseconds(Int64(max(0, deadline.timeIntervalSinceNow) * 1000))
    }

    /// When work must stop so that the answer is posted before the deadline: ``LambdaRuntime/margin``
    /// before it. The runtime cancels the handler then.
    public var stopBy: Date { deadline.addingTimeInterval(-LambdaRuntime.margin) }
}

/// Handles the events of one kind (API Gateway requests, SQS batches, schedules).
public protocol LambdaHandler: Sendable {
    /// The answer (JSON bytes) to one `event` (JSON bytes). A thrown error is reported as the
    /// invocation's failure; a handler cancelled at ``LambdaContext/stopBy`` must leave what it
    /// was doing resumable.
    func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer
}

/// A handler's failure the function reports under its own error type.
public struct LambdaHandlerError: Error, CustomStringConvertible {
    public var type: String
    public var description: String

    public init(type: String, _ description: String) {
        self.type = type
        self.description = description
    }
}

/// The custom runtime's loop: starts the handler, then takes invocations one at a time from the
/// Runtime API, runs each under its deadline and posts the answer or the failure.
public enum LambdaRuntime {
    /// How long before an invocation's deadline its handler is cancelled, in seconds, for the
    /// failure to be posted in time.
    public static let margin: TimeInterval = 0.5

    /// Runs until the Runtime API fails (a 500, or it cannot be reached): that error is thrown, and
    /// the process should exit. A `makeHandler` that throws is reported as an initialization
    /// error, then thrown.
    ///
    /// `exportingTraceID` sets `_X_AMZN_TRACE_ID` to each invocation's trace header, as Lambda's
    /// runtimes do. `setenv` is not safe while another thread reads the environment (starting a
    /// process does), which a function's process never does between invocations; a process that
    /// also does other work (a test) passes false.
    public static func run(
        client: LambdaRuntimeClient, logger: Logger, exportingTraceID: Bool = true,
        makeHandler: () async throws -> any LambdaHandler
    ) async throws {
        let handler: any LambdaHandler
        do {
            handler = try await makeHandler()
        } catch {
            logger.error("the function cannot start", metadata: ["error": "\(error)"])
            // The reason the function cannot start is what ends it, whether or not Lambda heard it.
            do {
                try await client.failInitialization(
                    with: report(error, defaultType: "Runtime.InitError"), logger: logger)
            } catch let unreported {
                logger.error("the init error could not be reported", metadata: ["error": "\(unreported)"])
            }
            throw error
        }
        while true {
            let invocation: LambdaInvocation
            do {
                invocation = try await client.next(logger: logger)
            } catch LambdaRuntimeError.malformedInvocation(requestID: let requestID?, let detail) {
                logger.error("a malformed invocation", metadata: ["error": "\(detail)"])
                try await client.fail(
                    requestID, with: LambdaErrorReport(type: "Runtime.MalformedInvocation", message: detail),
                    logger: logger)
                continue
            }
            try await handle(
                invocation, with: handler, client: client, logger: logger, exportingTraceID: exportingTraceID)
        }
    }

    /// Runs `handler` on `invocation` until its answer or ``LambdaContext/stopBy``, and posts
    /// the outcome.
    static func handle(
        _ invocation: LambdaInvocation, with handler: any LambdaHandler, client: LambdaRuntimeClient, logger: Logger,
        exportingTraceID: Bool
    ) async throws {
        var logger = logger
        logger[metadataKey: "aws_request_id"] = .string(invocation.requestID)
        logger[metadataKey: "trace_id"] = .string(invocation.traceID)
        if exportingTraceID { setenv("_X_AMZN_TRACE_ID", invocation.traceID, 1) }
        let context = LambdaContext(
            requestID: invocation.requestID, functionARN: invocation.functionARN, traceID: invocation.traceID,
            deadline: invocation.deadline, logger: logger)
        // The handler's outcome or the deadline's, whichever comes first; the other is then
        // cancelled, and a handler stopped at the deadline is awaited until it has stopped.
        let outcome = await withTaskGroup(of: Result<ByteBuffer, any Error>.self) { group in
            group.addTask {
                do {
                    return .success(
                        try await InvocationSpan.traced(context) {
                            try await handler.handle(invocation.event, context: context)
                        })
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                let wait = context.stopBy.timeIntervalSinceNow
                if wait > 0 { try? await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
                return .failure(DeadlineReached(deadline: invocation.deadline))
            }
            let first = await group.next() ?? .failure(DeadlineReached(deadline: invocation.deadline))
            group.cancelAll()
            return first
        }
        switch outcome {
        case .success(let answer):
            do {
                try await client.respond(to: invocation.requestID, with: answer, logger: logger)
            } catch LambdaRuntimeError.refused(let status) where status != 500 {
                // 413: the answer is larger than Lambda takes.
                try await client.fail(
                    invocation.requestID,
                    with: LambdaErrorReport(
                        type: "Runtime.ResponseRefused",
                        message: "the Runtime API refused the answer (HTTP \(status), \(answer.readableBytes) bytes)"),
                    logger: logger)
            }
        case .failure(let error):
            logger.error("the invocation failed", metadata: ["error": "\(error)"])
            try await client.fail(
                invocation.requestID, with: report(error, defaultType: "Runtime.HandlerError"), logger: logger)
        }
    }

    static func report(_ error: any Error, defaultType: String) -> LambdaErrorReport {
        switch error {
        case let error as LambdaHandlerError: LambdaErrorReport(type: error.type, message: error.description)
        case let error as DeadlineReached: LambdaErrorReport(type: "Runtime.DeadlineReached", message: "\(error)")
        default: LambdaErrorReport(type: defaultType, message: "\(error)")
        }
    }
}

/// The invocation's deadline came before the handler's answer: the handler was stopped.
struct DeadlineReached: Error, CustomStringConvertible {
    var deadline: Date

    var description: String {
        "stopped \(LambdaRuntime.margin) s before the invocation's deadline; work in flight was left to be resumed"
    }
}
