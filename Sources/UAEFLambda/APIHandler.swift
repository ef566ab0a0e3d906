import Foundation
import NIOCore
import UAEFEngine
import UAEFServer

/// The `api` handler: API Gateway HTTP API requests (payload format 2.0) answered by the same
/// `/v1` routes as `uaef serve`, with the same bearer tokens. Runs the API starts are left for
/// the workers (or the `queue` and `scheduled` handlers) to execute.
public struct APIHandler: LambdaHandler {
    let api: APIResponder

    /// The largest answer Lambda returns to API Gateway: 6 MB.
    static let answerLimit = 6 * 1024 * 1024

    public init(api: APIResponder) { self.api = api }

    public func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer {
        var request: APIResponder.Request
        do {
            request = try APIGatewayV2.request(from: event)
        } catch {
            throw LambdaHandlerError(type: "UAEF.InvalidEvent", "api: \(error)")
        }
        // The request's span is a child of the caller's span when it sent a traceparent, of the
        // invocation's otherwise (a tracer reading headers takes none sent for no parent at all).
        if !request.headers.contains(where: { $0.name.lowercased() == "traceparent" }),
            let invocation = TraceContext.currentTraceParent()
        {
            request.headers.append((name: "traceparent", value: invocation))
        }
        // Base64 grows an answer by a third; JSON escaping by less.
        let response = await api.respond(
            to: request, bodyLimit: Self.answerLimit / 4 * 3 - 4096, logger: context.logger)
        return APIGatewayV2.answer(response)
    }
}
