import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import UAEFAgents
import UAEFCore
import UAEFEngine

/// One SAP OData V2 service (its root URL, such as
/// `https://host/sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV`) reached as a communication
/// user: Basic authentication or a client certificate, the `sap-client` parameter, JSON, and
/// the CSRF token with the session cookies it belongs to.
///
/// CSRF, as SAP Gateway documents it ("Cross-Site Request Forgery Protection", SAP Help for
/// SAP Gateway Foundation): a `GET` on the service root with `x-csrf-token: Fetch` answers the
/// token in the same header and opens a session (cookies); every modifying request sends the
/// token and the cookies; a stale token is answered `403` with `x-csrf-token: Required`, after
/// which the token is fetched again and the request sent once more. The token is fetched once
/// for all concurrent requests and kept until the service refuses it.
final class SAPService: Sendable {
    let root: URL
    let sapClient: String?
    private let authorization: String?
    private let http: HTTPClient
    let timeout: TimeAmount

    /// The CSRF token and the cookies of its session; `fetching` while a fetch is under way.
    private struct Session {
        var token: String?
        var cookies: [String: String] = [:]
        var fetching: Task<String, any Error>?
    }
    private let session = Mutex(Session())

    /// The service a `sap` connector's resolved settings describe, reached under `policy`.
    static func make(settings: [String: JSONValue], policy: OutboundPolicy) async throws -> SAPService {
        guard let text = settings["url"]?.stringValue,
            let url = URL(string: text.hasSuffix("/") ? String(text.dropLast()) : text)
        else { throw AgentFailure("sap: the connector has no url", retryable: false) }
        var tls: TLSConfiguration?
        if let certificate = settings["client_certificate"]?.stringValue, let key = settings["client_key"]?.stringValue
        {
            do {
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map {
                    .certificate($0)
                }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
                if let authority = settings["ca_certificate"]?.stringValue {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.utf8)))
                }
                tls = configuration
            } catch {
                throw AgentFailure(
                    "sap: the connector's client_certificate or client_key is not valid PEM (\(error))",
                    retryable: false)
            }
        }
        var authorization: String?
        if let user = settings["user"]?.stringValue, let password = settings["password"]?.stringValue {
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        let http = try await OutboundHTTP(policy: policy).client(
            for: url, method: "POST", by: "sap", connections: 64, tlsConfiguration: tls)
        let timeout = settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(60)
        return SAPService(
            root: url, sapClient: settings["client"]?.stringValue, authorization: authorization, http: http,
            timeout: TimeAmount(timeout))
    }

    private init(root: URL, sapClient: String?, authorization: String?, http: HTTPClient, timeout: TimeAmount) {
        self.root = root
        self.sapClient = sapClient
        self.authorization = authorization
        self.http = http
        self.timeout = timeout
    }

    func shutdown() async { try? await http.shutdown() }

    /// What a request answered: its status and, for a body in OData's JSON form, the value under `d`.
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var value: JSONValue?
    }

    /// Reads `path` (relative to the root) with `query`; a status other than 200 is an error.
    func get(_ path: String, query: [(String, String)] = [], logger: Logger) async throws -> JSONValue {
        let answer = try await exchange("GET", path, query: query, body: nil, token: nil, logger: logger)
        guard let value = answer.value else {
            throw AgentFailure("sap: GET \(path) answered \(answer.status) without an OData JSON body")
        }
        return value
    }

    /// Sends a modifying request (`POST`) to `path` with the CSRF token, fetching it first when
    /// none is held, and once more after a `403` that asks for a new one.
    func modify(_ path: String, query: [(String, String)] = [], body: JSONValue?, logger: Logger) async throws -> Answer
    {
        var token = try await currentToken(logger: logger)
        var refreshed = false
        while true {
            do {
                return try await exchange("POST", path, query: query, body: body, token: token, logger: logger)
            } catch let refused as TokenRefused where !refreshed {
                refreshed = true
                session.withLock { if $0.token == refused.token { $0.token = nil } }
                token = try await currentToken(logger: logger)
            }
        }
    }

    /// Fetches a token now (what `uaef connectors test` checks): the service answers and accepts
    /// the credentials.
    func fetchToken(logger: Logger) async throws -> String {
        session.withLock { $0.token = nil }
        return try await currentToken(logger: logger)
    }

    private struct TokenRefused: Error {
        var token: String
    }

    /// The token held, or one fetched (one fetch for all callers waiting).
    private func currentToken(logger: Logger) async throws -> String {
        let (held, pending) = session.withLock { session -> (String?, Task<String, any Error>?) in
            if let token = session.token { return (token, nil) }
            if let fetching = session.fetching { return (nil, fetching) }
            let fetching = Task { try await self.fetchTokenNow(logger: logger) }
            session.fetching = fetching
            return (nil, fetching)
        }
        if let held { return held }
        return try await pending!.value
    }

    private func fetchTokenNow(logger: Logger) async throws -> String {
        do {
            let answer = try await exchange("GET", "", query: [], body: nil, token: "Fetch", logger: logger)
            guard let token = answer.headers.first(name: "x-csrf-token"), !token.isEmpty,
                token.caseInsensitiveCompare("Required") != .orderedSame
            else {
                throw AgentFailure("sap: the service answered GET \(redactedRoot) without an x-csrf-token")
            }
            session.withLock { session in
                session.token = token
                session.fetching = nil
            }
            return token
        } catch {
            session.withLock { $0.fetching = nil }
            throw error
        }
    }

    private var redactedRoot: String { OutboundHTTP.redacted(root) }

    /// One request: authentication, `sap-client`, the session's cookies, JSON. Cookies the
    /// answer sets join the session. A status of 400 or more is thrown as an error with the
    /// service's message.
    private func exchange(
        _ method: String, _ path: String, query: [(String, String)], body: JSONValue?, token: String?, logger: Logger
    ) async throws -> Answer {
        var pairs = query
        if let sapClient { pairs.append(("sap-client", sapClient)) }
        var text = root.absoluteString + (path.isEmpty ? "/" : "/" + path)
        if !pairs.isEmpty { text += "?" + ODataV2.query(pairs) }
        guard let url = URL(string: text) else {
            throw AgentFailure("sap: \(path.prefix(80)) does not make a valid URL", retryable: false)
        }
        var request = HTTPClientRequest(url: text)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let token { request.headers.add(name: "x-csrf-token", value: token) }
        let cookies = session.withLock { $0.cookies }
        if !cookies.isEmpty {
            request.headers.add(
                name: "Cookie",
                value: cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let (response, buffer) = try await OutboundHTTP.execute(
            request, on: http, to: url, method: method, by: "sap", timeout: timeout, logger: logger)
        keepCookies(response.headers)
        let status = Int(response.status.code)
        let bodyText = String(buffer: buffer)
        if status == 403, let token, token != "Fetch",
            response.headers.first(name: "x-csrf-token")?.caseInsensitiveCompare("Required") == .orderedSame
        {
            throw TokenRefused(token: token)
        }
        guard status < 400 else {
            let error = ODataV2.ServiceError(status: status, body: bodyText)
            throw AgentFailure(
                "sap: \(method) \(path.isEmpty ? redactedRoot : path): \(error)", retryable: error.retryable)
        }
        guard status < 300 || status == 304 else {
            throw AgentFailure(
                "sap: \(method) \(path) answered \(status), a redirect, which is not followed", retryable: false)
        }
        let value = (try? JSONValue(jsonText: bodyText))?["d"]
        return Answer(status: status, headers: response.headers, value: value)
    }

    /// Keeps the cookies `headers` set (name and value; the session is one host's).
    private func keepCookies(_ headers: HTTPHeaders) {
        let set = headers["Set-Cookie"]
        guard !set.isEmpty else { return }
        session.withLock { session in
            for line in set {
                let pair = line.prefix { $0 != ";" }
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = pair[..<equals].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, session.cookies.count < 32 || session.cookies[name] != nil else { continue }
                session.cookies[name] = String(pair[pair.index(after: equals)...])
            }
        }
    }
}
