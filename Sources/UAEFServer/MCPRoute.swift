import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore

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
            let transport = StatelessHTTPServerTransport(
                validationPipeline: StandardValidationPipeline(validators: [
                    loopbackOnly ? OriginValidator.localhost() : OriginValidator.disabled,
                    AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
                ]))
            let server = await toolbox.server(for: principal, logger: context.logger)
            try await server.start(transport: transport)
            let answer = await transport.handleRequest(Self.request(request, body: body))
            await server.stop()
            return Self.response(answer)
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
