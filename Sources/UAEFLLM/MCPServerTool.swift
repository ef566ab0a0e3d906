import Logging
import MCP
import UAEFCore
import UAEFEngine
import UAEFMCP

/// A tool of an MCP server the agent is configured with, offered to the model as
/// `<server>__<tool>`. The server's error results, and a server that fails or does not answer in
/// time, reach the model as error results; the step's event names the server and the tool.
struct MCPServerTool: LLMTool {
    let session: MCPToolSession
    let tool: Tool
    let definition: ToolDefinition

    init(session: MCPToolSession, tool: Tool) throws(AgentFailure) {
        let name = "\(session.server.name)__\(tool.name)"
        guard LLMToolSpec.isValidName(name) else {
            throw AgentFailure(
                "llm: mcp server \(session.server.name)'s tool \(tool.name.prefix(80).debugDescription) cannot be offered to a model as \(name.prefix(100).debugDescription) (1 to 64 letters, digits, _ or -); leave it out with the server's tools setting",
                retryable: false)
        }
        let schema: JSONValue
        do {
            schema = try MCPValues.json(tool.inputSchema)
        } catch {
            throw AgentFailure("llm: mcp server \(session.server.name)'s tool \(tool.name): \(error)", retryable: false)
        }
        self.session = session
        self.tool = tool
        definition = ToolDefinition(
            name: name,
            description: tool.description ?? tool.title
                ?? "The tool \(tool.name) of the MCP server \(session.server.name).",
            inputSchema: schema.objectValue != nil ? schema : ["type": "object"])
    }

    /// Unless the server says the tool only reads (`readOnlyHint`), as MCP's default assumes.
    var changesWorld: Bool { tool.annotations.readOnlyHint != true }

    var eventDetails: [String: JSONValue] {
        ["mcp_server": .string(session.server.name), "mcp_tool": .string(tool.name)]
    }

    func call(_ input: JSONValue, request: AttemptRequest, step: Int, logger: Logger) async throws -> ToolResult {
        guard let arguments = input.objectValue else {
            throw ToolInputError(description: "the input must be an object of the tool's arguments")
        }
        let result: CallTool.Result
        do {
            result = try await session.call(tool.name, arguments: arguments)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ToolInputError(description: "the MCP server \(session.server.name) failed: \(error)")
        }
        let text = result.content.map(Self.text).joined(separator: "\n")
        if result.isError == true { throw ToolInputError(description: text.isEmpty ? "the tool failed" : text) }
        var value = JSONValue.string(text)
        if let structured = result.structuredContent, let parsed = try? MCPValues.json(structured) { value = parsed }
        return ToolResult(value: value)
    }

    /// A content block as text: text as it is, other kinds named.
    static func text(_ content: Tool.Content) -> String {
        switch content {
        case .text(let text, _, _): text
        case .image(_, let mimeType, _, _): "[image \(mimeType)]"
        case .audio(_, let mimeType, _, _): "[audio \(mimeType)]"
        case .resource(let resource, _, _): resource.text ?? "[resource \(resource.uri)]"
        case .resourceLink(let uri, let name, _, _, _, _): "[resource link \(name): \(uri)]"
        }
    }
}
