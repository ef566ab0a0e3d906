import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFCore
import UAEFEngine

/// Calls an HTTP endpoint: `url` (required), `method` (default GET), `headers`, `body`.
///
/// A string body is sent as is; any other body as JSON with `Content-Type: application/json`.
/// The output is `{"status", "headers", "body"}` with the body parsed as JSON when it is JSON.
/// A non-2xx status fails the attempt; 4xx other than 408 and 429 fail it without retrying.
/// Every request carries `Idempotency-Key` so the server can deduplicate retried attempts.
///
/// Where it may connect is the ``OutboundPolicy``'s decision: the host is resolved here, every
/// address checked, and the connection pinned to a checked address (so a second lookup cannot
/// answer differently); redirects (at most 5) are followed here and checked the same way, and
/// credentials are not carried to another origin. Error messages show URLs without their query
/// and user information.
public struct HTTPAgent: AgentKind {
    /// Redirects followed before the attempt fails.
    public static let maximumRedirects = 5

    private let outbound: OutboundHTTP

    public init(policy: OutboundPolicy = .unrestricted) { outbound = OutboundHTTP(policy: policy) }
    public var name: String { "http" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["url"], optional: ["method", "headers", "body"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        var hop = try Hop(request)
        for _ in 0...Self.maximumRedirects {
            let (response, body) = try await outbound.send(
                hop.request, to: hop.url, method: hop.method, by: "http", logger: logger)
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "location") {
                hop = try hop.redirected(to: location, status: status)
                continue
            }
            let text = String(buffer: body)
            guard (200..<300).contains(status) else {
                let retryable = status >= 500 || status == 408 || status == 429
                throw AgentFailure(
                    "http: \(hop.method) \(OutboundHTTP.redacted(hop.url)) answered \(status): \(String(text.prefix(500)))",
                    retryable: retryable)
            }
            var headers: [String: JSONValue] = [:]
            for header in response.headers { headers[header.name.lowercased()] = .string(header.value) }
            let parsedBody = (try? JSONValue(jsonText: text)) ?? .string(text)
            return ["status": .number(Number(status)), "headers": .object(headers), "body": parsedBody]
        }
        throw AgentFailure("http: more than \(Self.maximumRedirects) redirects from \(OutboundHTTP.redacted(hop.url))")
    }

    /// One request of an attempt: the first, or one a redirect asked for.
    struct Hop {
        var url: URL
        var method: String
        var headers: [(String, String)]
        var body: ByteBuffer?

        init(_ request: AttemptRequest) throws {
            guard let text = request.parameters["url"]?.stringValue, let url = URL(string: text),
                ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false
            else {
                throw AgentFailure("http: `url` must be an http:// or https:// URL with a host", retryable: false)
            }
            self.url = url
            method = request.parameters["method"]?.stringValue?.uppercased() ?? "GET"
            guard (1...32).contains(method.count), method.allSatisfy(OutboundHTTP.tokenCharacters.contains) else {
                throw AgentFailure(
                    "http: `method` must be an HTTP method such as GET or POST (letters, at most 32)", retryable: false)
            }
            headers = [("Idempotency-Key", request.idempotencyKey)]
            if let given = request.parameters["headers"] {
                guard let members = given.objectValue else {
                    throw AgentFailure("http: `headers` must be a mapping of names to values", retryable: false)
                }
                for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                    let text = Template.text(of: value)
                    try OutboundHTTP.checkHeader(name, text, by: "http")
                    headers.removeAll { $0.0.lowercased() == name.lowercased() }
                    headers.append((name, text))
                }
            }
            switch request.parameters["body"] {
            case nil, .null?: body = nil
            case .string(let text)?: body = ByteBuffer(string: text)
            case let value?:
                body = ByteBuffer(string: value.jsonText)
                if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                    headers.append(("Content-Type", "application/json"))
                }
            }
        }

        var request: HTTPClientRequest {
            var outgoing = HTTPClientRequest(url: url.absoluteString)
            outgoing.method = HTTPMethod(rawValue: method)
            for (name, value) in headers { outgoing.headers.add(name: name, value: value) }
            if let body { outgoing.body = .bytes(body) }
            return outgoing
        }

        /// The next hop after a redirect with `status` to `location`: 303 (and 301/302 after a
        /// POST) become a GET without a body; credentials stay with the origin that got them.
        func redirected(to location: String, status: Int) throws -> Hop {
            guard let target = URL(string: location, relativeTo: url)?.absoluteURL,
                ["http", "https"].contains(target.scheme?.lowercased() ?? "")
            else {
                throw AgentFailure(
                    "http: \(OutboundHTTP.redacted(url)) redirected to a location that is not an http(s) URL",
                    retryable: false)
            }
            var next = self
            next.url = target
            if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                next.method = "GET"
                next.body = nil
                next.headers.removeAll { ["content-type", "content-length"].contains($0.0.lowercased()) }
            }
            let sameOrigin =
                target.scheme?.lowercased() == url.scheme?.lowercased()
                && target.host?.lowercased() == url.host?.lowercased()
                && target.port == url.port
            if !sameOrigin {
                next.headers.removeAll {
                    ["authorization", "cookie", "proxy-authorization"].contains($0.0.lowercased())
                }
            }
            return next
        }
    }
}

/// The built-in agent kinds.
public enum BuiltInAgents {
    /// noop, echo, sleep, command and http, with every privilege: the single-user CLI's set
    /// (programs inherit the environment but for UAEF's secrets; any address is reachable).
    public static var registry: AgentKindRegistry {
        AgentKindRegistry([NoopAgent(), EchoAgent(), SleepAgent(), CommandAgent(), HTTPAgent()])
    }

    /// Who may have the `command` kind run programs in a server process.
    public enum CommandAccess: Sendable {
        /// Nobody: the kind is not offered (a server's default).
        case none
        /// Only agents an administrator registered (`uaef serve --allow-command`): tasks cannot
        /// name the kind.
        case administratorsAgents
        /// Any task of the runs in the store (`uaef worker --allow-command`: whoever could put a
        /// run in the store was already checked where it entered).
        case anyTask
    }

    /// The kinds a server process offers: `http` confined by `policy`, `command` as `command`
    /// says and with a minimal environment.
    public static func server(command: CommandAccess, policy: OutboundPolicy) -> AgentKindRegistry {
        let kinds = AgentKindRegistry([
            NoopAgent(), EchoAgent(), SleepAgent(), CommandAgent(environment: .minimal), HTTPAgent(policy: policy),
        ])
        switch command {
        case .none: return kinds.withoutHostKinds()
        case .administratorsAgents: return kinds.restrictingHostKinds()
        case .anyTask: return kinds
        }
    }
}
