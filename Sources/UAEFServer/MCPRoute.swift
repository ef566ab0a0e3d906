import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import UAEFCore

/// `POST /v1/mcp`: the MCP tools (``MCPToolbox``) over Streamable HTTP, for the principal the
/// request's bearer token names (so its tenant and roles decide what the tools see and do).
///
/// Stateless, as the transport allows: every POST is answered on its own with JSON (no session,
/// no server-sent events stream; `GET` and `DELETE`, undocumented, are 405), which suits a tool server with no
/// notifications to push and lets any node of a cluster answer any request.
struct MCPRoute {
    let toolbox: MCPToolbox
    let bodyLimit: Int
    /// Checks `Host` and `Origin` against loopback names when the server runs without
    /// authentication (a web page the operator visits must not reach it through DNS rebinding);
    /// with bearer tokens a page has no credentials to send.
    let loopbackOnly: Bool

    func add(to group: RouterGroup<APIContext>) {
        group.post("mcp") { request, context in
            // Every role with a tool reads; each tool then checks its own permission.
            let principal = try context.require(.read)
            let body = try await request.body.collect(upTo: bodyLimit)
            try Self.refuseAmbiguous(body)
            let transport = StatelessHTTPServerTransport(
                validationPipeline: StandardValidationPipeline(validators: [
                    loopbackOnly ? OriginValidator.localhost() : OriginValidator.disabled,
                    AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
                ]))
            let server = await toolbox.server(for: principal, logger: context.logger)
            try await server.start(transport: transport)
            let answer = await Self.answer(
                Self.request(request, body: body), transport: transport, server: server, within: Self.deadline)
            await server.stop()
            return Self.response(answer)
        }
    }

    /// The longest a message may take to be answered; then the server is stopped, which answers
    /// it with an error, so no request can hold its handler and server for good.
    static let deadline = Duration.seconds(60)

    /// The transport's answer to `request`, or its error answer once `server` is stopped at
    /// `deadline`.
    static func answer(
        _ request: MCP.HTTPRequest, transport: StatelessHTTPServerTransport, server: Server, within deadline: Duration
    ) async -> MCP.HTTPResponse {
        await withTaskGroup(of: MCP.HTTPResponse?.self) { group in
            group.addTask { await transport.handleRequest(request) }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return nil
            }
            if let first = await group.next(), let answer = first {
                group.cancelAll()
                return answer
            }
            await server.stop()
            let late = await group.next()
            return (late ?? nil) ?? .error(statusCode: 500, .internalError("the request was not answered in time"))
        }
    }

    /// Refuses a message that is both a request and a response (`method` with `result` or
    /// `error`): the SDK's transport and server would read it as different things and never
    /// answer it.
    static func refuseAmbiguous(_ body: ByteBuffer) throws {
        guard let message = try? JSONValue(jsonText: String(buffer: body)) else { return }
        for member in message.arrayValue ?? [message] {
            if member["method"] != nil && (member["result"] != nil || member["error"] != nil) {
                throw Problem.badRequest(
                    "a JSON-RPC message is a request or notification (method) or a response (result or error), not both"
                )
            }
        }
    }

    /// The request as the SDK's framework-neutral type (repeated header fields joined by commas;
    /// `Host`, which HTTP types keep as the request's authority, among them).
    static func request(_ request: Request, body: ByteBuffer) -> MCP.HTTPRequest {
        var headers: [String: String] = [:]
        if let authority = request.head.authority { headers["Host"] = authority }
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        return MCP.HTTPRequest(
            method: request.method.rawValue, headers: headers, body: Data(body.readableBytesView),
            path: request.uri.path)
    }

    /// The SDK's answer as a Hummingbird response (the stateless transport never streams).
    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        let body = answer.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
        return Response(status: .init(code: answer.statusCode), headers: fields, body: body)
    }
}
