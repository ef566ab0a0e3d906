import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// Why a Jira call did not succeed: the HTTP status (nil without an answer), Jira's
/// `errorMessages` and field `errors` in one line, and `Retry-After` when asked.
public struct JiraError: Error, Sendable, CustomStringConvertible {
    public let status: Int?
    public let retryAfter: Duration?
    public let description: String

    /// Whether trying again later can help: no answer, 408, 429 and 5xx. A refused issue (400),
    /// credentials (401, 403) or an unknown project (404) need a person first.
    public var isTransient: Bool { status.map { $0 == 408 || $0 == 429 || $0 >= 500 } ?? true }
}

/// Jira Cloud's REST API version 3 for one site and one account (`email` and an API token, as
/// Basic authentication), its connections pinned to an address the outbound policy allows.
struct JiraClient: Sendable {
    let client: HTTPClient
    let site: URL
    let authorization: String
    let timeout: TimeAmount

    /// A client for a connector's resolved `settings` (`url`, `email`, `api_token`, `timeout`).
    init(settings: [String: JSONValue], policy: OutboundPolicy) async throws {
        guard let text = settings["url"]?.stringValue, let site = URL(string: text),
            let email = settings["email"]?.stringValue, let token = settings["api_token"]?.stringValue
        else {
            throw AgentFailure("jira: the connector needs url, email and api_token", retryable: false)
        }
        self.site = site
        authorization = "Basic " + Data("\(email):\(token)".utf8).base64EncodedString()
        timeout = TimeAmount(settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(30))
        client = try await OutboundHTTP(policy: policy).client(for: site, method: "POST", by: "jira")
    }

    /// `method` on `path` under `/rest/api/3/` with `query` and a JSON `body`; the answer's JSON
    /// (null when it has none) on 2xx.
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil, logger: Logger
    ) async throws(JiraError) -> JSONValue {
        var parts = URLComponents(url: site.appending(path: "rest/api/3/" + path), resolvingAgainstBaseURL: false)
        if !query.isEmpty { parts?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // `+` is a space to some servers in a query: sent as %2B.
        let encoded = parts?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        parts?.percentEncodedQuery = encoded
        guard let url = parts?.url else {
            throw JiraError(status: nil, retryAfter: nil, description: "jira: \(path) is not a valid path")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            (response, buffer) = try await OutboundHTTP.execute(
                request, on: client, to: url, method: method.rawValue, by: "jira", timeout: timeout, logger: logger)
        } catch {
            throw JiraError(status: nil, retryAfter: nil, description: "\(error)")
        }
        let status = Int(response.status.code)
        let text = String(buffer: buffer)
        let answer = text.isEmpty ? JSONValue.null : (try? JSONValue(jsonText: text))
        if (200..<300).contains(status), let answer { return answer }
        throw JiraError(
            status: status,
            retryAfter: WebhookAnswer.retryAfter(response.headers),
            description:
                "jira: \(method.rawValue) \(OutboundHTTP.redacted(url)) answered \(status): \(Self.problems(answer, text: text))"
        )
    }

    /// Jira's `errorMessages` and field `errors` as one line, or the start of a body that has none.
    static func problems(_ answer: JSONValue?, text: String) -> String {
        let messages = answer?["errorMessages"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let fields = (answer?["errors"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map {
            "\($0.key): \($0.value.stringValue ?? $0.value.jsonText)"
        }
        let all = messages + fields
        return all.isEmpty ? String(text.prefix(300)) : all.joined(separator: "; ")
    }

    /// The issue of `project` carrying `label`, if one exists.
    func issue(labelled label: String, project: String, logger: Logger) async throws(JiraError) -> (
        id: String, key: String
    )? {
        let found = try await call(
            .GET, "search/jql",
            query: [
                ("jql", "project = \"\(project)\" AND labels = \"\(label)\""), ("fields", "summary"),
                ("maxResults", "1"),
            ], logger: logger)
        guard let issue = found["issues"]?.arrayValue?.first, let id = issue["id"]?.stringValue,
            let key = issue["key"]?.stringValue
        else { return nil }
        return (id, key)
    }

    /// Creates an issue with `fields` once for `label` (added to its labels): an issue already
    /// carrying it, made by an earlier attempt whose answer was lost, is returned instead, once
    /// Jira's search index shows it (within seconds of its creation).
    func createOnce(_ fields: [String: JSONValue], label: String, logger: Logger) async throws(JiraError) -> (
        id: String, key: String, created: Bool
    ) {
        let project = fields["project"]?["key"]?.stringValue ?? ""
        if let existing = try await issue(labelled: label, project: project, logger: logger) {
            return (existing.id, existing.key, false)
        }
        var fields = fields
        fields["labels"] = .array((fields["labels"]?.arrayValue ?? []) + [.string(label)])
        let created = try await call(.POST, "issue", body: ["fields": .object(fields)], logger: logger)
        guard let id = created["id"]?.stringValue, let key = created["key"]?.stringValue else {
            throw JiraError(
                status: 201, retryAfter: nil, description: "jira: the created issue's answer has no id or key")
        }
        return (id, key, true)
    }

    /// The issue's address in Jira's web interface.
    func browse(_ key: String) -> String { site.appending(path: "browse/\(key)").absoluteString }

    func shutdown() async { try? await client.shutdown() }
}
