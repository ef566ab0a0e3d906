import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import UAEFCore

/// The HTTP API answering requests handed over in memory instead of read from a socket: what a
/// Lambda function behind API Gateway serves. The routes, middleware and checks are those of
/// `uaef serve` (one router, ``APIServer/makeRouter``); the runs requests start are not executed
/// here but left, unleased, for the workers, because the process is frozen once it has answered.
public struct APIResponder: Sendable {
    /// One request.
    public struct Request: Sendable {
        public var method: String
        /// The path and, after `?`, the query as sent.
        public var target: String
        public var headers: [(name: String, value: String)]
        public var body: ByteBuffer
        /// The caller's IP address, for limiting failed authentications per address.
        public var clientAddress: String?
        /// The request's id in the logs (API Gateway's request id).
        public var id: String

        public init(
            method: String, target: String, headers: [(name: String, value: String)], body: ByteBuffer,
            clientAddress: String?, id: String
        ) {
            self.id = id
            self.method = method
            self.target = target
            self.headers = headers
            self.body = body
            self.clientAddress = clientAddress
        }
    }

    /// One answer.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: ByteBuffer

        public init(status: Int, headers: [(name: String, value: String)], body: ByteBuffer) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    private let responder: RouterResponder<APIContext>

    /// The API of `runtime` configured by `configuration` (its host and port are not used); the
    /// runs it starts are left for others to execute, each told to `announcer` when there is one.
    public init(configuration: ServerConfiguration, runtime: ServerRuntime, announcer: (any RunAnnouncer)? = nil) {
        responder = APIServer.makeRouter(
            configuration, runtime: runtime, executor: nil, ledgerChanges: LedgerChanges(), announcer: announcer
        ).buildResponder()
    }

    /// The API's answer to `request`, its body collected up to `bodyLimit` bytes (a longer one,
    /// such as an event stream, is a 502 problem).
    public func respond(to request: Request, bodyLimit: Int, logger: Logger) async -> Response {
        var fields = HTTPFields()
        for (name, value) in request.headers {
            guard let field = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: field, value: value))
        }
        let head = HTTPRequest(
            method: HTTPRequest.Method(request.method) ?? .get, scheme: "https", authority: "lambda",
            path: request.target.isEmpty ? "/" : request.target, headerFields: fields)
        var logger = logger
        logger[metadataKey: "hb.request.id"] = .string(request.id)
        var context = APIContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: logger))
        context.clientAddress = request.clientAddress
        let response: Hummingbird.Response
        do {
            response = try await responder.respond(
                to: Hummingbird.Request(head: head, body: RequestBody(buffer: request.body)), context: context)
        } catch {
            logger.error("the API failed a request", metadata: ["error": "\(error)"])
            return Self.problem(500, "the request failed: \(error)")
        }
        let collector = BodyCollector(limit: bodyLimit)
        do {
            let body = response.body
            try await body.write(collector)
        } catch {
            return Self.problem(502, "the answer is larger than \(bodyLimit) bytes or never ends")
        }
        return Response(
            status: Int(response.status.code),
            headers: response.headers.map { (name: $0.name.canonicalName, value: $0.value) },
            body: collector.collected)
    }

    private static func problem(_ status: Int, _ detail: String) -> Response {
        let body: JSONValue = [
            "type": "about:blank", "title": status == 502 ? "bad-gateway" : "internal-error",
            "status": .number(Number(status)), "detail": .string(detail),
        ]
        return Response(
            status: status, headers: [("content-type", "application/problem+json")],
            body: ByteBuffer(string: body.jsonText))
    }
}

/// Collects a response's body, up to a limit.
private final class BodyCollector: ResponseBodyWriter, Sendable {
    let limit: Int
    private let body = Mutex(ByteBuffer())

    init(limit: Int) { self.limit = limit }

    var collected: ByteBuffer { body.withLock { $0 } }

    func write(_ buffer: ByteBuffer) async throws {
        try body.withLock { body in
            guard body.readableBytes + buffer.readableBytes <= limit else { throw BodyTooLarge() }
            body.writeImmutableBuffer(buffer)
        }
    }

    func finish(_ trailers: HTTPFields?) async throws {}

    struct BodyTooLarge: Error {}
}
