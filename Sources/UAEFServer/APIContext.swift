import Hummingbird
import Logging
import Synchronization
import UAEFConsole
import UAEFStore

/// The request context of every API route: Hummingbird's core context plus the caller.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address (its TCP peer), for limiting failed authentications per address.
    public internal(set) var clientAddress: String?
    /// Set by ``AuthenticationMiddleware`` before any `/v1` route runs.
    public var principal: Principal? {
        didSet { caller.withLock { $0 = principal } }
    }
    /// The console session the request came with (console pages only).
    var consoleSession: ConsoleSession?
    /// The principal as the outermost middleware sees it after the request (middlewares further
    /// in work on copies of the context): for the request's log line.
    let caller = CallerBox()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
        principal = nil
    }

    /// The caller, when it holds `permission`; otherwise a 403 problem (401 when nobody is
    /// authenticated, which the middleware prevents on `/v1`).
    public func require(_ permission: Permission) throws -> Principal {
        guard let principal else { throw Problem(.unauthorized, "unauthorized", "this route needs a bearer token") }
        guard principal.may(permission) else {
            throw Problem(
                .forbidden, "forbidden",
                "\(principal.subject) (roles: \(principal.roles.map(\.rawValue).sorted().joined(separator: ", "))) may not do this; it needs one of the roles \(permission.grantingRoles)"
            )
        }
        return principal
    }
}

/// The caller of one request, shared by every copy of its context.
final class CallerBox: Sendable {
    private let value = Mutex<Principal?>(nil)

    func withLock<Result>(_ body: (inout Principal?) -> Result) -> Result { value.withLock { body(&$0) } }
}

/// Resolves the caller of every request it wraps: the agent of an agent API key
/// (`uaef_ak_…`), the principal of a JWT bearer token, or, when the server runs without token
/// authentication (loopback only), a local administrator of the `default` tenant. For the
/// console's pages the token comes from the session cookie instead (``ConsoleSession``); a
/// request without one is refused as `sign-in-required`, which is not a failed authentication.
///
/// Failed authentications are limited per client address (``failures``), before any token is
/// looked at: a client that keeps guessing gets 429 with `Retry-After`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let authority: TokenAuthority?
    let store: any WorkflowStore
    /// Failed authentications per client address (``ServerConfiguration/failedAuthenticationRate``).
    let failures: RateLimiter
    /// Where the credentials are: the `Authorization` header (the API) or the console's cookie.
    var credentials: Credentials = .authorizationHeader

    /// Where a request's credentials are.
    enum Credentials {
        case authorizationHeader, consoleSession
    }

    /// The kind of the 401 problem for a console request without a session.
    static let signInRequired = "sign-in-required"

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        let client = context.clientAddress ?? "unknown"
        if let wait = failures.waitIfEmpty(client) {
            throw Problem.tooManyRequests(
                "too many failed authentications from \(client)", retryAfter: wait)
        }
        var context = context
        if credentials == .consoleSession {
            context.consoleSession = ConsoleSession.from(cookieHeader: request.headers[.cookie])
            guard context.consoleSession != nil else {
                throw Problem(.unauthorized, Self.signInRequired, "sign in to use the console")
            }
        }
        do {
            // Only the authentication counts as a failure here, not what the route answers.
            context.principal = try await principal(of: request, session: context.consoleSession)
        } catch let problem as Problem where problem.status == .unauthorized {
            _ = failures.take(client)
            throw problem
        }
        if let principal = context.principal {
            context.logger[metadataKey: "tenant"] = .string(principal.tenant)
            context.logger[metadataKey: "subject"] = .string(principal.subject)
        }
        return try await next(request, context)
    }

    /// The caller the request's credentials name; a 401 problem when they name nobody.
    private func principal(of request: Request, session: ConsoleSession?) async throws -> Principal {
        if let session {
            guard let authority else { return Principal(subject: "local", tenant: "default", roles: [.admin]) }
            guard !session.isLocal else {
                throw TokenAuthority.unauthorized("the server now checks tokens; sign in with one")
            }
            return try await authority.principal(for: session.value)
        }
        let bearer = request.headers[.authorization].flatMap { header in
            header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)) : nil
        }
        if let bearer, bearer.hasPrefix(AgentKeys.prefix) {
            return try await AgentKeys.principal(for: bearer, store: store)
        }
        guard let authority else { return Principal(subject: "local", tenant: "default", roles: [.admin]) }
        guard let header = request.headers[.authorization] else {
            throw TokenAuthority.unauthorized("send a token in an Authorization: Bearer header")
        }
        guard header.lowercased().hasPrefix("bearer ") else {
            throw TokenAuthority.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        return try await authority.principal(for: String(header.dropFirst(7)))
    }
}
