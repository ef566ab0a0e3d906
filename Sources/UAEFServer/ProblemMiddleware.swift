import Hummingbird
import Logging
import NIOCore
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// Turns every error a route throws into an RFC 9457 problem, so a caller never sees a bare
/// status or an internal message; unexpected errors are logged with the request id and answered
/// with a 500 that names that id.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIContext

    /// The methods the API answers; any other (TRACE, CONNECT, …) is a 405 before routing.
    static let methods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .options]

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        do {
            guard Self.methods.contains(request.method) else {
                throw Problem(
                    .methodNotAllowed, "method-not-allowed",
                    "this API answers GET, POST, PUT and DELETE, not \(request.method.rawValue.prefix(32))",
                    headers: [.allow: "GET, HEAD, POST, PUT, DELETE, OPTIONS"])
            }
            do {
                return try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                // No route matched: a documented path asked with another method is a 405.
                let allowed = DocumentedRoutes.api.methods(for: request.uri.path)
                guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
                throw Problem(
                    .methodNotAllowed, "method-not-allowed",
                    "\(request.uri.path.prefix(200)) answers \(allowed.joined(separator: ", ")), not \(request.method.rawValue)",
                    headers: [.allow: allowed.joined(separator: ", ")])
            }
        } catch {
            let problem = Self.problem(for: error, logger: context.logger, requestID: "\(context.id)")
            return try problem.response(from: request, context: context)
        }
    }

    /// The problem `error` is for a caller; an unexpected error is logged and answered as a 500
    /// naming `requestID`, never with its own text.
    static func problem(for error: any Error, logger: Logger, requestID: String) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let failure as ValidationFailure:
            return .validation(failure)
        case let error as RegistryError:
            switch error {
            case .unknownWorkflow, .unknownVersion: return Problem(.notFound, "not-found", error.description)
            case .idempotencyKeyReused: return Problem(.conflict, "idempotency-key-reused", error.description)
            }
        case let refusal as ScheduleRegistry.Refusal:
            switch refusal {
            case .unknownSchedule: return Problem(.notFound, "not-found", refusal.description)
            case .changedMeanwhile: return Problem(.conflict, "changed-meanwhile", refusal.description)
            case .badRange: return Problem(.unprocessableContent, "validation-failed", refusal.description)
            }
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, "body-too-large", "the request body is larger than this server accepts")
        case let refusal as Refusal:
            return Problem(.conflict, "refused", refusal.description)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return Problem(.notFound, "not-found", "no route matches \(error.body ?? "this path")")
            case .contentTooLarge:
                return Problem(.contentTooLarge, "body-too-large", "the request body is larger than allowed")
            default: return Problem(error.status, "http-error", error.body ?? error.status.reasonPhrase)
            }
        default:
            logger.error("request failed", metadata: ["error": "\(error)", "request": "\(requestID)"])
            return Problem(
                .internalServerError, "internal-error",
                "the server could not complete the request (request id \(requestID)); the server log has the cause")
        }
    }
}
