import HTTPTypes
import Hummingbird
import Logging

/// Gives every response an `X-Request-Id` (the id in the server's log lines and in a 500's
/// detail) and logs one line per request at `info`: method, path, status, duration, with the
/// request id and, once authenticated, the tenant and subject.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let id = context.id
        context.logger[metadataKey: "request_id"] = .string(id)
        let start = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[.requestID] = id
        if context.logger.logLevel <= .info {
            let elapsed = ContinuousClock.now - start
            if let caller = context.caller.withLock({ $0 }) {
                context.logger[metadataKey: "tenant"] = .string(caller.tenant)
                context.logger[metadataKey: "subject"] = .string(caller.subject)
            }
            context.logger.info(
                "request",
                metadata: [
                    "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                    "status": .stringConvertible(response.status.code),
                    "duration_ms": .stringConvertible(
                        Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000),
                ])
        }
        return response
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`.
    static let requestID = HTTPField.Name("X-Request-Id")!
}
