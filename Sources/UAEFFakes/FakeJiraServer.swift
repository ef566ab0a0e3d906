import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFCore

/// The Jira Cloud REST API v3 resources UAEF calls, on loopback, for tests. From Atlassian's
/// REST v3 reference (developer.atlassian.com/cloud/jira/platform/rest/v3) and the Atlassian
/// Document Format's structure page and JSON schema, checked with the `jira` Python package as
/// the client (Tests/Support/jira_client_check.py):
///
/// - **Basic authentication** of one account (email and API token); otherwise 401.
/// - **`POST /rest/api/3/issue`** `{"fields": …}`: the project must exist (`project: valid
///   project is required`), a `summary` of 1 to 255 characters (`You must specify a summary of
///   the issue.`), an `issuetype` by name or id among Task, Bug, Story, Epic, `labels` without
///   spaces, a `description` that is an ADF document (`doc`, version 1, blocks of `paragraph`,
///   `heading` or `codeBlock` holding text nodes whose text is not empty); otherwise 400 with
///   `{"errorMessages": [], "errors": {FIELD: MESSAGE}}`. Answers 201 `{"id", "key", "self"}`,
///   keys `PROJECT-N`, ids from 10000.
/// - **`GET /rest/api/3/issue/{idOrKey}`**: `{"id", "key", "self", "fields"}`; 404 otherwise.
/// - **`GET /rest/api/3/search/jql`** (the enhanced search) with `jql` of `field = value` clauses
///   joined by `AND` over `project`, `labels`, `key` and `summary` (values quoted or not),
///   `maxResults`: `{"issues": [...], "isLast": true}`; other JQL is a 400 `Error in the JQL Query`.
/// - **`GET /rest/api/3/myself`**, **`GET /rest/api/3/project/{key}`**, **`GET
///   /rest/api/3/serverInfo`** (`deploymentType: Cloud`), **`GET /rest/api/3/field`** (the system
///   fields UAEF sets).
/// - ``failNextCreates(_:)`` makes creates store the issue and then answer 503 (an answer lost
///   after the work was done); ``limitNext(_:retryAfter:)`` answers 429 with `Retry-After`.
public struct FakeJiraServer: Sendable {
    public let email: String
    public let token: String
    public let projects: [String: String]
    let state = FakeState(State())

    struct State {
        var issues: [JSONValue] = []
        var failingCreates = 0
        var limited = 0
        var retryAfter = 1
    }

    public init(
        email: String = "automation@example.com", token: String = "fake-api-token",
        projects: [String: String] = ["OPS": "Operations"]
    ) {
        self.email = email
        self.token = token
        self.projects = projects
    }

    /// Every issue created, in order, as `GET /issue/{key}` shows it.
    public var issues: [JSONValue] { state.withLock { $0.issues } }

    /// Makes the next `count` creates store their issue, then answer 503.
    public func failNextCreates(_ count: Int) { state.withLock { $0.failingCreates = count } }

    /// Makes the next `count` requests answer 429 with `Retry-After: retryAfter`.
    public func limitNext(_ count: Int, retryAfter: Int = 1) {
        state.withLock {
            $0.limited = count
            $0.retryAfter = retryAfter
        }
    }

    static func errors(_ status: Int, messages: [String] = [], fields: [String: String] = [:]) -> Response {
        FakeHTTP.json(
            status,
            [
                "errorMessages": .array(messages.map(JSONValue.string)),
                "errors": .object(fields.mapValues(JSONValue.string)),
            ])
    }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        let api = router.group("rest/api/3")
        api.post("issue") { request, _ in
            if let refused = gate(request) { return refused }
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            guard let fields = (try? JSONValue(jsonText: text))?["fields"]?.objectValue else {
                return Self.errors(400, messages: ["Unexpected character in the request body: fields are required"])
            }
            var problems = Self.problems(fields)
            let project = fields["project"]?["key"]?.stringValue ?? fields["project"]?["id"]?.stringValue ?? ""
            if projects[project] == nil { problems["project"] = "valid project is required" }
            guard problems.isEmpty else { return Self.errors(400, fields: problems) }
            let base = "http://\(request.head.authority ?? "127.0.0.1")"
            let (created, fail) = state.withLock { state -> (JSONValue, Bool) in
                let id = 10_000 + state.issues.count
                let number = state.issues.filter { $0["fields"]?["project"]?["key"]?.stringValue == project }.count + 1
                var stored = fields
                stored["project"] = ["key": .string(project), "name": .string(projects[project] ?? "")]
                stored["labels"] = fields["labels"] ?? []
                let issue: JSONValue = [
                    "id": .string("\(id)"), "key": .string("\(project)-\(number)"),
                    "self": .string("\(base)/rest/api/3/issue/\(id)"), "fields": .object(stored),
                ]
                state.issues.append(issue)
                let fail = state.failingCreates > 0
                if fail { state.failingCreates -= 1 }
                return (issue, fail)
            }
            if fail { return Self.errors(503, messages: ["Service Unavailable"]) }
            return FakeHTTP.json(
                201, ["id": created["id"] ?? .null, "key": created["key"] ?? .null, "self": created["self"] ?? .null])
        }
        api.get("issue/:key") { request, context in
            if let refused = gate(request) { return refused }
            let key = context.parameters.get("key") ?? ""
            guard let issue = issues.first(where: { $0["key"]?.stringValue == key || $0["id"]?.stringValue == key })
            else {
                return Self.errors(404, messages: ["Issue does not exist or you do not have permission to see it."])
            }
            return FakeHTTP.json(200, issue)
        }
        api.get("search/jql") { request, _ in
            if let refused = gate(request) { return refused }
            let query = FakeHTTP.queryItems(request.uri.query ?? "")
            guard let clauses = Self.clauses(query["jql"] ?? "") else {
                return Self.errors(400, messages: ["Error in the JQL Query: the query is not supported by this fake"])
            }
            let limit = query["maxResults"].flatMap(Int.init) ?? 50
            let found = issues.filter { issue in
                clauses.allSatisfy { field, value in
                    switch field {
                    case "project": issue["fields"]?["project"]?["key"]?.stringValue == value
                    case "labels": issue["fields"]?["labels"]?.arrayValue?.contains(.string(value)) == true
                    case "key": issue["key"]?.stringValue == value
                    default: issue["fields"]?["summary"]?.stringValue == value
                    }
                }
            }
            return FakeHTTP.json(200, ["issues": .array(Array(found.prefix(limit))), "isLast": true])
        }
        api.get("myself") { request, _ in
            if let refused = gate(request) { return refused }
            return FakeHTTP.json(
                200,
                [
                    "accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": .string(email),
                    "displayName": "UAEF Automation", "active": true, "accountType": "atlassian",
                ])
        }
        api.get("project/:key") { request, context in
            if let refused = gate(request) { return refused }
            let key = context.parameters.get("key") ?? ""
            guard let name = projects[key] else {
                return Self.errors(404, messages: ["No project could be found with key '\(key)'."])
            }
            return FakeHTTP.json(200, ["id": "10000", "key": .string(key), "name": .string(name)])
        }
        api.get("field") { request, _ in
            if let refused = gate(request) { return refused }
            return FakeHTTP.json(
                200,
                .array(
                    Self.systemFields.map { id, name, type in
                        [
                            "id": .string(id), "key": .string(id), "name": .string(name), "custom": false,
                            "orderable": true, "navigable": true, "searchable": true, "clauseNames": [.string(id)],
                            "schema": ["type": .string(type), "system": .string(id)],
                        ]
                    }))
        }
        api.get("serverInfo") { request, _ in
            FakeHTTP.json(
                200,
                [
                    "baseUrl": .string("http://\(request.head.authority ?? "127.0.0.1")"),
                    "version": "1001.0.0-SNAPSHOT",
                    "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud", "buildNumber": 100_300,
                    "serverTitle": "Jira",
                ])
        }
        var logger = Logger(label: "uaef-fake-jira")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    /// Rate limits and authentication: a refusal, or nil to go on.
    private func gate(_ request: Request) -> Response? {
        if let wait = state.withLock({ state -> Int? in
            guard state.limited > 0 else { return nil }
            state.limited -= 1
            return state.retryAfter
        }) {
            var response = Self.errors(429, messages: ["Rate limit exceeded."])
            response.headers[.retryAfter] = "\(wait)"
            return response
        }
        guard FakeHTTP.isBasic(request, user: email, password: token) else {
            return FakeHTTP.text(401, "Client must be authenticated to access this resource.")
        }
        return nil
    }

    static let issueTypes = ["Task", "Bug", "Story", "Epic"]

    /// The system fields `GET /field` lists: id, name and schema type.
    static let systemFields = [
        ("summary", "Summary", "string"), ("description", "Description", "string"), ("project", "Project", "project"),
        ("issuetype", "Issue Type", "issuetype"), ("labels", "Labels", "array"), ("priority", "Priority", "priority"),
    ]

    /// What is wrong with an issue's fields (except its project), by field.
    static func problems(_ fields: [String: JSONValue]) -> [String: String] {
        var problems: [String: String] = [:]
        let summary = fields["summary"]?.stringValue ?? ""
        if summary.isEmpty { problems["summary"] = "You must specify a summary of the issue." }
        if summary.count > 255 { problems["summary"] = "Summary must be less than 255 characters." }
        let type = fields["issuetype"]?["name"]?.stringValue ?? fields["issuetype"]?["id"]?.stringValue ?? ""
        if !issueTypes.contains(type) { problems["issuetype"] = "Specify a valid issue type" }
        if let labels = fields["labels"] {
            let valid =
                labels.arrayValue?.allSatisfy { label in
                    label.stringValue.map { !$0.isEmpty && $0.count <= 255 && !$0.contains(where: \.isWhitespace) }
                        ?? false
                } ?? false
            if !valid { problems["labels"] = "The label can't contain spaces." }
        }
        if let description = fields["description"], !isDocument(description) {
            problems["description"] =
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        }
        return problems
    }

    /// Whether `value` is an ADF document of paragraphs, headings and code blocks of text nodes
    /// (the schema: a text node's `text` has at least one character; no other members).
    static func isDocument(_ value: JSONValue) -> Bool {
        guard value["type"] == "doc", value["version"] == 1, let blocks = value["content"]?.arrayValue else {
            return false
        }
        return blocks.allSatisfy { block in
            guard let type = block["type"]?.stringValue, ["paragraph", "heading", "codeBlock"].contains(type) else {
                return false
            }
            return (block["content"]?.arrayValue ?? []).allSatisfy { node in
                node["type"] == "text" && (node["text"]?.stringValue?.isEmpty == false)
                    && Set(node.objectValue?.keys.map { $0 } ?? []).isSubset(of: ["type", "text", "marks"])
            }
        }
    }

    /// The `field = value` clauses of a JQL query joined by `AND`, or nil for any other query.
    static func clauses(_ jql: String) -> [(String, String)]? {
        var clauses: [(String, String)] = []
        for clause in jql.components(separatedBy: " AND ") {
            let parts = clause.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, ["project", "labels", "key", "summary"].contains(parts[0]) else { return nil }
            var value = parts[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            clauses.append((parts[0], value))
        }
        return clauses.isEmpty ? nil : clauses
    }
}
