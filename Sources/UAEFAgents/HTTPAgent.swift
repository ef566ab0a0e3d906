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
public struct HTTPAgent: AgentKind {
    /// The largest response body read.
    public static let maximumBodyBytes = 16 << 20

    private let client: HTTPClient

    public init(client: HTTPClient = .shared) { self.client = client }
    public var name: String { "http" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["url"], optional: ["method", "headers", "body"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let url = request.parameters["url"]?.stringValue, let parsed = URL(string: url),
            ["http", "https"].contains(parsed.scheme?.lowercased() ?? "")
        else {
            throw AgentFailure("http: `url` must be an http:// or https:// URL", retryable: false)
        }
        let method = request.parameters["method"]?.stringValue?.uppercased() ?? "GET"
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = HTTPMethod(rawValue: method)
        outgoing.headers.add(name: "Idempotency-Key", value: request.idempotencyKey)
        if let headers = request.parameters["headers"] {
            guard let members = headers.objectValue else {
                throw AgentFailure("http: `headers` must be a mapping of names to values", retryable: false)
            }
            for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                outgoing.headers.replaceOrAdd(name: name, value: Template.text(of: value))
            }
        }
        switch request.parameters["body"] {
        case nil, .null?: break
        case .string(let text)?: outgoing.body = .bytes(ByteBuffer(string: text))
        case let value?:
            outgoing.body = .bytes(ByteBuffer(string: value.jsonText))
            if !outgoing.headers.contains(name: "Content-Type") {
                outgoing.headers.add(name: "Content-Type", value: "application/json")
            }
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(outgoing, timeout: .hours(24), logger: logger)
            body = try await response.body.collect(upTo: Self.maximumBodyBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentFailure("http: \(method) \(url) failed: \(error)")
        }
        let text = String(buffer: body)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let retryable = status >= 500 || status == 408 || status == 429
            throw AgentFailure(
                "http: \(method) \(url) answered \(status): \(String(text.prefix(500)))", retryable: retryable)
        }
        var headers: [String: JSONValue] = [:]
        for header in response.headers { headers[header.name.lowercased()] = .string(header.value) }
        let parsedBody = (try? JSONValue(jsonText: text)) ?? .string(text)
        return ["status": .number(Number(status)), "headers": .object(headers), "body": parsedBody]
    }
}

/// The built-in agent kinds.
public enum BuiltInAgents {
    /// noop, echo, sleep, command and http.
    public static var registry: AgentKindRegistry {
        AgentKindRegistry([NoopAgent(), EchoAgent(), SleepAgent(), CommandAgent(), HTTPAgent()])
    }
}
