import Foundation
import HTTPTypes
import Logging
import MCP
import UAEFCore
import UAEFEngine
import UAEFMCP
import UAEFStore

/// UAEF's tools for AI assistants, over the Model Context Protocol: list and describe workflows,
/// start and read runs, list and decide approvals, read an inclusion proof, list settlements,
/// list and trigger schedules.
///
/// Each tool is one of the API's operations (``APIOperations``) under the same permission as its
/// `/v1` route, so an assistant can do exactly what its principal's token lets it do through the
/// API and nothing more: `tools/list` shows only the tools the principal may call. A tool's
/// output schema is the API's documented response schema for the same operation (from the
/// OpenAPI document), and its result carries both that structured value and its JSON text.
struct MCPToolbox: Sendable {
    let operations: APIOperations

    /// The `serverInfo` name and version an MCP client sees.
    static let serverName = "uaef"
    static let serverVersion = "0.1.0"

    static let instructions = """
        UAEF runs business processes as durable workflows of tasks done by agents, records every \
        step in a tamper-evident ledger, and settles the outcomes in a double-entry journal. Start \
        with list_workflows and describe_workflow to see what can be run and which inputs it takes; \
        start_run starts one (give an idempotency_key so a retried call starts nothing twice) and \
        get_run follows it. Approvals wait for a human decision: list_approvals, then decide_approval.
        """

    /// A tool: its name and description, the permission it needs, its input schema, the API
    /// operation whose response schema is its output schema, and what it does.
    struct Entry: Sendable {
        var name: String
        var title: String
        var description: String
        var permission: Permission
        var input: JSONValue
        var operationID: String
        var annotations: Tool.Annotations
        var call: @Sendable (APIOperations, Principal, [String: JSONValue]) async throws -> JSONValue
    }

    /// Every tool with its MCP description, in the order `tools/list` gives them.
    static let catalog: [(entry: Entry, tool: Tool)] = MCPTools.entries.map { entry in
        let tool = Tool(
            name: entry.name, title: entry.title, description: entry.description,
            inputSchema: MCPValues.value(entry.input), annotations: entry.annotations,
            outputSchema: OpenAPIResponseSchema.schema(of: entry.operationID).map(MCPValues.value))
        return (entry, tool)
    }

    /// The tools `principal` may call.
    static func tools(for principal: Principal) -> [Tool] {
        catalog.filter { principal.may($0.entry.permission) }.map(\.tool)
    }

    /// Calls the tool `name` as `principal`. A problem the caller can act on (bad arguments, a
    /// missing permission, a run that does not exist) is an error result naming it, as the
    /// protocol asks, so the model sees it; only an unknown tool is a protocol error.
    func call(_ name: String, arguments given: [String: Value]?, by principal: Principal, logger: Logger) async throws
        -> CallTool.Result
    {
        guard let entry = Self.catalog.first(where: { $0.entry.name == name })?.entry else {
            throw MCPError.invalidParams("there is no tool '\(name.prefix(64))'; tools/list names the tools")
        }
        do {
            guard principal.may(entry.permission) else {
                throw Problem(
                    .forbidden, "forbidden",
                    "\(principal.subject) may not call \(name); it needs one of the roles \(entry.permission.grantingRoles)"
                )
            }
            let arguments: [String: JSONValue]
            do {
                arguments = try MCPValues.object(given)
            } catch {
                throw Problem.badRequest("the arguments of \(name) cannot be read: \(error)")
            }
            let violations = JSONSchema(entry.input).violations(of: .object(arguments))
            guard violations.isEmpty else {
                throw Problem(
                    .unprocessableContent, "validation-failed",
                    "the arguments of \(name) do not match its input schema: " + violations.joined(separator: "; "))
            }
            let text = try await entry.call(operations, principal, arguments).jsonText
            return CallTool.Result(
                content: [.text(text: text, annotations: nil, _meta: nil)],
                structuredContent: .some(MCPValues.value(jsonText: text)), isError: false)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let problem = ProblemMiddleware.problem(for: error, logger: logger, requestID: "mcp \(name)")
            return CallTool.Result(
                content: [.text(text: problem.json.jsonText, annotations: nil, _meta: nil)], isError: true)
        }
    }

    /// A server that answers `initialize`, `tools/list` and `tools/call` for `principal`,
    /// counting the calls in flight in `calls` when given.
    func server(for principal: Principal, logger: Logger, calls: InFlightCalls? = nil) async -> Server {
        let server = Server(
            name: Self.serverName, version: Self.serverVersion, title: "UAEF", instructions: Self.instructions,
            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: Self.tools(for: principal)) }
        await server.withMethodHandler(CallTool.self) { params in
            calls?.enter()
            defer { calls?.leave() }
            return try await self.call(params.name, arguments: params.arguments, by: principal, logger: logger)
        }
        return server
    }
}

/// The JSON Schema of an API operation's success response, taken from the OpenAPI document the
/// server serves, made self-contained: the component schemas it refers to (transitively) become
/// its `$defs`.
enum OpenAPIResponseSchema {
    private static let document = (try? JSONValue(jsonText: OpenAPISpec.text)) ?? [:]
    private static let prefix = "#/components/schemas/"

    /// The schema of the first 2xx JSON response of the operation `operationID`, or nil when the
    /// document has none.
    static func schema(of operationID: String) -> JSONValue? {
        guard let root = responseSchema(of: operationID), let components = document["components"]?["schemas"]
        else { return nil }
        var definitions: [String: JSONValue] = [:]
        var pending: [String] = []
        var schema = rewritingReferences(root, into: &pending)
        while let name = pending.popLast() {
            guard definitions[name] == nil, let component = components[name] else { continue }
            definitions[name] = rewritingReferences(component, into: &pending)
        }
        guard var members = schema.objectValue else { return nil }
        // MCP clients expect an object schema at the top, also for a `oneOf` of objects.
        if members["type"] == nil { members["type"] = "object" }
        if !definitions.isEmpty { members["$defs"] = .object(definitions) }
        schema = .object(members)
        return schema
    }

    private static func responseSchema(of operationID: String) -> JSONValue? {
        for (_, operations) in document["paths"]?.objectValue ?? [:] {
            for (_, operation) in operations.objectValue ?? [:] where operation["operationId"] == .string(operationID) {
                let responses = operation["responses"]?.objectValue ?? [:]
                for status in responses.keys.sorted() where status.hasPrefix("2") {
                    if let schema = responses[status]?["content"]?["application/json"]?["schema"] { return schema }
                }
            }
        }
        return nil
    }

    /// `schema` with every component reference pointing into `$defs`, the names referred to
    /// appended to `names`.
    private static func rewritingReferences(_ schema: JSONValue, into names: inout [String]) -> JSONValue {
        switch schema {
        case .object(let members):
            var rewritten: [String: JSONValue] = [:]
            for (key, value) in members {
                if key == "$ref", let target = value.stringValue, target.hasPrefix(prefix) {
                    let name = String(target.dropFirst(prefix.count))
                    names.append(name)
                    rewritten[key] = .string("#/$defs/" + name)
                } else if key == "discriminator" {
                    // OpenAPI's own keyword, pointing at components: JSON Schema has no use for it.
                    continue
                } else {
                    rewritten[key] = rewritingReferences(value, into: &names)
                }
            }
            return .object(rewritten)
        case .array(let elements):
            return .array(elements.map { rewritingReferences($0, into: &names) })
        default:
            return schema
        }
    }
}
