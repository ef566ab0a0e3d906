import AsyncHTTPClient
import Foundation
import Logging
import MCP
import NIOCore
import NIOHTTP1
import UAEFCore

/// MCP's Streamable HTTP transport as a client, on an HTTP client confined by UAEF's outbound
/// policy (``OutboundHTTP``): each message is a POST; the answer is JSON or a `text/event-stream`
/// of messages, both passed on; `202 Accepted` carries none. The session id a server gives at
/// initialization (`Mcp-Session-Id`) and the protocol version it agreed are sent with every later
/// message. No standalone GET stream is opened: tools need none.
actor MCPHTTPTransport: Transport {
    /// The largest answer read.
    static let maximumAnswerBytes = 16 << 20

    nonisolated let logger: Logger
    private let url: URL
    private let headers: [String: String]
    private let client: HTTPClient
    private let timeout: TimeAmount
    private let incoming: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var sessionID: String?
    private var protocolVersion: String?

    init(url: URL, headers: [String: String], client: HTTPClient, timeout: TimeAmount, logger: Logger) {
        self.url = url
        self.headers = headers
        self.client = client
        self.timeout = timeout
        self.logger = logger
        (incoming, continuation) = AsyncThrowingStream.makeStream()
    }

    /// The server answered a message with an error status.
    struct Refused: Error, CustomStringConvertible {
        var status: UInt
        var body: String
        var description: String { "the MCP server answered HTTP \(status): \(body.prefix(300))" }
    }

    func connect() async throws {}

    func disconnect() async {
        continuation.finish()
        guard let sessionID else { return }
        // Ends the server's session, as the transport asks a client to when it is done.
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .DELETE
        request.headers.add(name: "Mcp-Session-Id", value: sessionID)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        _ = try? await client.execute(request, timeout: .seconds(5))
    }

    func send(_ data: Data) async throws {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json, text/event-stream")
        if let sessionID { request.headers.replaceOrAdd(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.replaceOrAdd(name: "MCP-Protocol-Version", value: protocolVersion) }
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await client.execute(request, timeout: timeout)
        if let session = response.headers.first(name: "Mcp-Session-Id") { sessionID = session }
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 4096)
            throw Refused(status: response.status.code, body: body.map { String(buffer: $0) } ?? "")
        }
        if response.status == .accepted { return }
        let type = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        if type.hasPrefix("text/event-stream") {
            var parser = ServerSentEventParser(lineLimit: Self.maximumAnswerBytes)
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                guard read <= Self.maximumAnswerBytes else { throw MCPError.internalError("the answer is too large") }
                for event in try parser.feed(chunk.readableBytesView) where event.event == "message" {
                    deliver(Data(event.data.utf8))
                }
            }
        } else {
            let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            deliver(Data(body.readableBytesView))
        }
    }

    /// Passes a message on, noting the protocol version an initialization result agrees.
    private func deliver(_ message: Data) {
        if protocolVersion == nil, let value = try? JSONValue(jsonData: message),
            let version = value["result"]?["protocolVersion"]?.stringValue
        {
            protocolVersion = version
        }
        continuation.yield(message)
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { incoming }
}
