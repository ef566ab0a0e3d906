import Foundation
import UAEFCore

/// An MCP server whose tools an agent may use, as its configuration's `mcp_servers` lists it:
///
/// ```yaml
/// mcp_servers:
///   - name: files                    # the tools are offered as files__<tool>
///     command: [python3, server.py]  # a program on this host (stdio), or:
///     url: https://mcp.example.com/mcp   # Streamable HTTP
///     headers: {Authorization: {$secret: MCP_TOKEN}}   # with url
///     env: {ROOT: /srv/files}        # with command
///     tools: [read_file, search]     # only these (default: every tool it lists)
///     timeout: 60s                   # per call (default 60s, at most 1h)
/// ```
public struct MCPServerSpec: Sendable, Hashable {
    public enum Endpoint: Sendable, Hashable {
        /// Streamable HTTP at this URL, with these headers on every request.
        case http(URL, headers: [String: String])
        /// A program started for the attempt, spoken to on its standard input and output.
        case program([String], environment: [String: String])
    }

    public var name: String
    public var endpoint: Endpoint
    /// The tools offered, when not all that the server lists.
    public var tools: Set<String>?
    public var timeout: Duration

    /// The most servers one agent may name.
    public static let limit = 8

    /// True when an agent's configuration lists a server that is a program on this host.
    public static func startsPrograms(_ configuration: JSONValue?) -> Bool {
        (configuration?.arrayValue ?? []).contains { $0["command"] != nil }
    }

    /// A setting that is not right, with its place.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The servers `value` lists (none when nil).
    public static func parse(_ value: JSONValue?) throws(Invalid) -> [MCPServerSpec] {
        guard let value else { return [] }
        guard let entries = value.arrayValue, entries.count <= limit else {
            throw Invalid(description: "mcp_servers must be a list of at most \(limit) servers")
        }
        var names: Set<String> = []
        return try entries.enumerated().map { index, entry throws(Invalid) in
            let server = try parse(entry, field: "mcp_servers[\(index)]")
            guard names.insert(server.name).inserted else {
                throw Invalid(description: "mcp_servers: two servers are named \(server.name)")
            }
            return server
        }
    }

    private static func parse(_ entry: JSONValue, field: String) throws(Invalid) -> MCPServerSpec {
        func fail(_ message: String) -> Invalid { Invalid(description: "\(field): \(message)") }
        guard let members = entry.objectValue else { throw fail("expected {name, url or command, ...}") }
        let allowed: Set<String> = ["name", "url", "headers", "command", "env", "tools", "timeout"]
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw fail("\(unknown) is not a server setting; settings: \(allowed.sorted().joined(separator: ", "))")
        }
        guard let name = members["name"]?.stringValue, isValidName(name) else {
            throw fail("name must be 1 to 32 lowercase letters, digits, _ or -")
        }
        let endpoint: Endpoint
        switch (members["url"], members["command"]) {
        case (let url?, nil):
            guard let text = url.stringValue, let parsed = URL(string: text),
                ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
            else { throw fail("url must be an http or https URL") }
            if members["env"] != nil { throw fail("env goes with command, not url") }
            endpoint = .http(parsed, headers: try strings(members["headers"], field: "headers", fail: fail))
        case (nil, let command?):
            guard let argv = command.arrayValue, !argv.isEmpty, argv.count <= 256,
                case let words = argv.compactMap(\.stringValue), words.count == argv.count
            else { throw fail("command must be a non-empty list of strings (argv)") }
            if members["headers"] != nil { throw fail("headers go with url, not command") }
            endpoint = .program(words, environment: try strings(members["env"], field: "env", fail: fail))
        default:
            throw fail("give either url (Streamable HTTP) or command (a program on stdio)")
        }
        var tools: Set<String>?
        if let list = members["tools"] {
            guard let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count,
                !names.isEmpty
            else { throw fail("tools must be a non-empty list of the server's tool names") }
            tools = Set(names)
        }
        var timeout = Duration.seconds(60)
        if let text = members["timeout"] {
            guard let parsed = text.stringValue.flatMap(DurationText.parse), parsed > .zero, parsed <= .seconds(3600)
            else { throw fail("timeout must be a duration up to 1h, such as 30s") }
            timeout = parsed
        }
        return MCPServerSpec(name: name, endpoint: endpoint, tools: tools, timeout: timeout)
    }

    private static func strings(_ value: JSONValue?, field: String, fail: (String) -> Invalid) throws(Invalid)
        -> [String: String]
    {
        guard let value else { return [:] }
        guard let members = value.objectValue, members.count <= 64 else {
            throw fail("\(field) must map at most 64 names to text")
        }
        var strings: [String: String] = [:]
        for (key, entry) in members {
            guard let text = entry.stringValue else { throw fail("\(field).\(key) must be text") }
            strings[key] = text
        }
        return strings
    }

    static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D
            }
    }
}
