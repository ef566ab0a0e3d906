import Foundation
import UAEFCore

/// The OpenAPI 3.1 description of the API, served at `GET /openapi.json`. A test checks that
/// every route the server registers is described here and every described operation answers.
enum OpenAPIDocument {
    /// One operation: method, path (OpenAPI style, `{id}`), what it does, the role family it needs.
    struct Operation {
        var method: String
        var path: String
        var summary: String
        var tag: String
        /// The permission needed, or nil for an open route.
        var permission: Permission?
        var query: [(name: String, description: String)] = []
        /// The request body's media types, or nil.
        var body: [String]? = nil
        /// The success status and the schema it returns (a component name, or nil for none).
        var success: (status: Int, schema: String?, mediaType: String) = (200, nil, "application/json")
        var headers: [String] = []
    }

    static let operations: [Operation] = [
        Operation(
            method: "get", path: "/healthz", summary: "The process is alive.", tag: "operations", permission: nil),
        Operation(
            method: "get", path: "/readyz", summary: "The store is reachable and migrated (503 otherwise).",
            tag: "operations", permission: nil),
        Operation(
            method: "get", path: "/metrics", summary: "Prometheus text: requests, attempts and store gauges (admin).",
            tag: "operations", permission: .read, success: (200, nil, "text/plain")),
        Operation(
            method: "get", path: "/openapi.json", summary: "This document.", tag: "operations", permission: nil),
        Operation(
            method: "post", path: "/v1/workflows",
            summary: "Register a definition (YAML or JSON); a new source is the next version, the same one 200.",
            tag: "workflows", permission: .writeWorkflows, body: ["application/yaml", "application/json"],
            success: (201, "Workflow", "application/json")),
        Operation(
            method: "get", path: "/v1/workflows", summary: "The latest version of each workflow.", tag: "workflows",
            permission: .read),
        Operation(
            method: "get", path: "/v1/workflows/{name}",
            summary: "A workflow's latest (or `version`) source with every version.", tag: "workflows",
            permission: .read, query: [("version", "A version number; default the latest.")],
            success: (200, "Workflow", "application/json")),
        Operation(
            method: "post", path: "/v1/runs",
            summary:
                "Start a run of a registered workflow `{\"workflow\", \"version\"?, \"inputs\"?}`; the same Idempotency-Key and body return the same run (200), another body 409.",
            tag: "runs", permission: .writeRuns, body: ["application/json"], success: (201, "Run", "application/json"),
            headers: ["Idempotency-Key"]),
        Operation(
            method: "get", path: "/v1/runs", summary: "Runs, newest first, a page at a time.", tag: "runs",
            permission: .read,
            query: [
                ("status", "pending, running, succeeded, failed or cancelled"), ("workflow", "A workflow name."),
                ("limit", "1 to 1000 (default 50)."), ("cursor", "The next_cursor of the page before."),
            ]),
        Operation(
            method: "get", path: "/v1/runs/{id}", summary: "A run with its tasks, as `uaef run --json` prints it.",
            tag: "runs", permission: .read, success: (200, "Run", "application/json")),
        Operation(
            method: "post", path: "/v1/runs/{id}/cancel", summary: "Request cancellation.", tag: "runs",
            permission: .writeRuns, success: (202, "Run", "application/json")),
        Operation(
            method: "get", path: "/v1/runs/{id}/events",
            summary: "The run's events as Server-Sent Events, from its first, ending after the run ends.",
            tag: "events", permission: .read, query: [("from", "Start at this seq.")],
            success: (200, nil, "text/event-stream"), headers: ["Last-Event-ID"]),
        Operation(
            method: "get", path: "/v1/events", summary: "The tenant's events as Server-Sent Events, as committed.",
            tag: "events", permission: .read, query: [("from", "Start at this seq (default: now).")],
            success: (200, nil, "text/event-stream"), headers: ["Last-Event-ID"]),
        Operation(
            method: "get", path: "/v1/runs/{id}/report",
            summary: "The run's compliance report with inclusion proofs against a signed checkpoint.", tag: "ledger",
            permission: .readLedger, query: [("format", "json (default), md or csv.")]),
        Operation(
            method: "post", path: "/v1/agents",
            summary: "Register agents from an agents document (YAML or JSON, `agents: [...]`).", tag: "agents",
            permission: .writeAgents, body: ["application/yaml", "application/json"],
            success: (201, nil, "application/json")),
        Operation(
            method: "get", path: "/v1/agents", summary: "Agents with their metrics.", tag: "agents", permission: .read),
        Operation(
            method: "get", path: "/v1/agents/{id}", summary: "One agent (id or name) with its metrics.", tag: "agents",
            permission: .read, success: (200, "Agent", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/activate", summary: "Let the agent take work.", tag: "agents",
            permission: .writeAgents, success: (200, "Agent", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/suspend", summary: "Stop giving the agent new work.", tag: "agents",
            permission: .writeAgents, success: (200, "Agent", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/retire", summary: "Retire the agent for good.", tag: "agents",
            permission: .writeAgents, success: (200, "Agent", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/keys",
            summary: "A new API key for a remote agent, shown once (`{\"key\", \"id\", \"agent_id\"}`).",
            tag: "remote agents", permission: .writeAgents, success: (201, nil, "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/claim",
            summary: "Claim one task (204 when none came within `wait`); `{id}` may be `me` with an agent key.",
            tag: "remote agents", permission: .agentWork,
            query: [
                ("wait", "How long to wait, e.g. 30s (at most 60s)."),
                ("capability", "Only tasks that asked for this capability (repeat for more)."),
            ],
            success: (200, "RemoteTask", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/tasks/{task}/heartbeat",
            summary: "Extend the lease `{\"generation\"}`; 409 when it is lost.", tag: "remote agents",
            permission: .agentWork, body: ["application/json"], success: (200, "RemoteTask", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/tasks/{task}/complete",
            summary: "Complete the task `{\"generation\", \"output\"}`; 409 when the lease is lost.",
            tag: "remote agents", permission: .agentWork, body: ["application/json"],
            success: (200, "RemoteTask", "application/json")),
        Operation(
            method: "post", path: "/v1/agents/{id}/tasks/{task}/fail",
            summary: "Fail the task `{\"generation\", \"error\", \"retryable\"?}`; 409 when the lease is lost.",
            tag: "remote agents", permission: .agentWork, body: ["application/json"],
            success: (200, "RemoteTask", "application/json")),
        Operation(
            method: "get", path: "/v1/ledger/checkpoint",
            summary: "The newest signed checkpoint (C2SP signed note), signing one first if the tree grew.",
            tag: "ledger", permission: .readLedger, success: (200, nil, "text/plain")),
        Operation(
            method: "get", path: "/v1/ledger/key", summary: "The checkpoint verifier key in note format.",
            tag: "ledger", permission: .readLedger, success: (200, nil, "text/plain")),
        Operation(
            method: "get", path: "/v1/ledger/events",
            summary:
                "The tenant's events as exported `{\"events\": [{\"index\", \"leaf_hash\", \"event\", \"payloads\"}], \"next_from\"}`.",
            tag: "ledger", permission: .readLedger,
            query: [("from", "The first index (default 0)."), ("limit", "1 to 1000 (default 100).")]),
        Operation(
            method: "get", path: "/v1/ledger/proofs/inclusion",
            summary: "An inclusion proof of one of the tenant's events.", tag: "ledger", permission: .readLedger,
            query: [("index", "The event's seq."), ("size", "The tree size (default: current).")]),
        Operation(
            method: "get", path: "/v1/ledger/proofs/consistency", summary: "A consistency proof between two sizes.",
            tag: "ledger", permission: .readLedger,
            query: [("from", "The older tree size."), ("to", "The newer tree size.")]),
        Operation(
            method: "post", path: "/v1/rules", summary: "Load a rules file as the tenant's active rule set.",
            tag: "settlements", permission: .writeWorkflows, body: ["application/yaml", "application/json"],
            success: (201, nil, "application/json")),
        Operation(
            method: "post", path: "/v1/signals",
            summary: "Send a signal `{\"name\", \"data\", \"idempotency_key\"}` that rules settle.",
            tag: "settlements", permission: .writeRuns, body: ["application/json"],
            success: (201, nil, "application/json"), headers: ["Idempotency-Key"]),
        Operation(
            method: "get", path: "/v1/settlements", summary: "Settlements, newest first.", tag: "settlements",
            permission: .read, query: [("status", "A settlement status."), ("limit", "1 to 1000 (default 100).")]),
        Operation(
            method: "get", path: "/v1/settlements/{id}",
            summary: "A settlement with its calculation, transfers and decisions.", tag: "settlements",
            permission: .read, success: (200, "Settlement", "application/json")),
        Operation(
            method: "post", path: "/v1/settlements/{id}/reverse",
            summary: "Reverse a posted settlement `{\"reason\"}` (its transfers booked back).", tag: "settlements",
            permission: .approve, body: ["application/json"], success: (200, "Settlement", "application/json")),
        Operation(
            method: "get", path: "/v1/settlements/{id}/report",
            summary: "The settlement's compliance report with inclusion proofs.", tag: "ledger",
            permission: .readLedger, query: [("format", "json (default), md or csv.")]),
        Operation(
            method: "get", path: "/v1/accounts", summary: "Accounts with balances and the trial balance.",
            tag: "settlements", permission: .read),
        Operation(
            method: "get", path: "/v1/journal", summary: "Journal transfers in order.", tag: "settlements",
            permission: .read, query: [("from", "The first transfer id."), ("limit", "1 to 1000 (default 100).")]),
        Operation(
            method: "put", path: "/v1/secrets/{name}",
            summary: "Set a secret `{\"value\"}`, sealed with AES-GCM under the master key (admin).", tag: "secrets",
            permission: .manageSecrets, body: ["application/json"]),
        Operation(
            method: "get", path: "/v1/secrets", summary: "The tenant's secrets: names and who set them, never values.",
            tag: "secrets", permission: .manageSecrets),
        Operation(
            method: "delete", path: "/v1/secrets/{name}", summary: "Delete a secret.", tag: "secrets",
            permission: .manageSecrets, success: (204, nil, "application/json")),
        Operation(
            method: "get", path: "/v1/approvals", summary: "Settlements and tasks waiting for approval.",
            tag: "approvals", permission: .read),
        Operation(
            method: "get", path: "/v1/approvals/{id}", summary: "One approval with its decisions.", tag: "approvals",
            permission: .read),
        Operation(
            method: "post", path: "/v1/approvals/{id}/approve",
            summary: "Approve as the token's principal in an approval role `{\"role\"?, \"reason\"?}`.",
            tag: "approvals", permission: .approve, body: ["application/json"]),
        Operation(
            method: "post", path: "/v1/approvals/{id}/reject",
            summary: "Reject as the token's principal `{\"role\"?, \"reason\"?}`.", tag: "approvals",
            permission: .approve, body: ["application/json"]),
    ]

    /// The document.
    static var json: JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            paths[operation.path, default: [:]][operation.method] = describe(operation)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "UAEF API", "version": "1",
                "description":
                    "Durable workflows run by AI agents and programs, a verifiable ledger of every step, and the money they settle. Errors are RFC 9457 problems.",
            ],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "securitySchemes": [
                    "bearer": [
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256) or agent key uaef_ak_…",
                    ]
                ],
                "schemas": .object(schemas),
            ],
            "security": [["bearer": []]],
        ]
    }

    private static func describe(_ operation: Operation) -> JSONValue {
        var parameters: [JSONValue] = []
        for name in pathParameters(operation.path) {
            parameters.append(["name": .string(name), "in": "path", "required": true, "schema": ["type": "string"]])
        }
        for (name, description) in operation.query {
            parameters.append([
                "name": .string(name), "in": "query", "required": false, "description": .string(description),
                "schema": ["type": "string"],
            ])
        }
        for header in operation.headers {
            parameters.append([
                "name": .string(header), "in": "header", "required": false, "schema": ["type": "string"],
            ])
        }
        let success: JSONValue = [
            "description": "Success",
            "content": [
                .init(operation.success.mediaType): [
                    "schema": operation.success.schema.map { ["$ref": .string("#/components/schemas/\($0)")] }
                        ?? (operation.success.mediaType == "application/json" ? ["type": "object"] : ["type": "string"])
                ]
            ],
        ]
        var responses: [String: JSONValue] = [String(operation.success.status): success]
        let problem: JSONValue = [
            "description": "An RFC 9457 problem",
            "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
        ]
        responses["default"] = problem
        var described: [String: JSONValue] = [
            "summary": .string(operation.summary), "tags": [.string(operation.tag)],
            "operationId": .string(operation.method + operation.path.replacingOccurrences(of: "/", with: "_")),
            "parameters": .array(parameters), "responses": .object(responses),
        ]
        if let permission = operation.permission {
            let roles = Role.allCases.filter { $0.permissions.contains(permission) }.map(\.rawValue)
            described["x-uaef-roles"] = .array(roles.map(JSONValue.string))
        } else {
            described["security"] = []
        }
        if let body = operation.body {
            var content: [String: JSONValue] = [:]
            for type in body {
                content[type] = ["schema": type == "application/json" ? ["type": "object"] : ["type": "string"]]
            }
            described["requestBody"] = ["required": true, "content": .object(content)]
        }
        return .object(described)
    }

    static func pathParameters(_ path: String) -> [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }

    private static let schemas: [String: JSONValue] = [
        "Problem": [
            "type": "object", "required": ["type", "title", "status", "detail"],
            "properties": [
                "type": ["type": "string"], "title": ["type": "string"], "status": ["type": "integer"],
                "detail": ["type": "string"],
                "errors": [
                    "type": "array",
                    "items": [
                        "type": "object",
                        "properties": [
                            "file": ["type": "string"], "line": ["type": ["integer", "null"]],
                            "field": ["type": "string"], "message": ["type": "string"],
                        ],
                    ],
                ],
            ],
        ],
        "Workflow": [
            "type": "object", "required": ["name", "version", "sha256", "created_at", "created_by"],
            "properties": [
                "name": ["type": "string"], "version": ["type": "integer"], "sha256": ["type": "string"],
                "created_at": ["type": "string", "format": "date-time"], "created_by": ["type": "string"],
                "source": ["type": "string"], "versions": ["type": "array", "items": ["type": "object"]],
            ],
        ],
        "Run": [
            "type": "object", "required": ["run_id", "workflow", "status", "tasks"],
            "properties": [
                "run_id": ["type": "string"], "workflow": ["type": "string"],
                "status": ["enum": ["pending", "running", "succeeded", "failed", "cancelled"]],
                "error": ["type": ["string", "null"]], "created_at": ["type": "string", "format": "date-time"],
                "ended_at": ["type": ["string", "null"], "format": "date-time"],
                "tasks": [
                    "type": "object",
                    "additionalProperties": [
                        "type": "object",
                        "properties": [
                            "status": ["type": "string"], "attempts": ["type": "integer"],
                            "agent": ["type": ["string", "null"]], "output": [:],
                            "error": ["type": ["string", "null"]],
                        ],
                    ],
                ],
            ],
        ],
        "Agent": [
            "type": "object", "required": ["id", "name", "kind", "capabilities", "status"],
            "properties": [
                "id": ["type": "string"], "name": ["type": "string"], "kind": ["type": "string"],
                "capabilities": ["type": "array", "items": ["type": "string"]], "configuration": ["type": "object"],
                "max_concurrency": ["type": "integer"], "status": ["type": "string"], "metrics": ["type": "object"],
            ],
        ],
        "RemoteTask": [
            "type": "object", "required": ["task_id", "generation", "run_id", "key", "input"],
            "properties": [
                "task_id": ["type": "string"], "generation": ["type": "integer"], "status": ["type": "string"],
                "run_id": ["type": "string"], "workflow": ["type": "string"], "key": ["type": "string"],
                "attempt": ["type": "integer"], "idempotency_key": ["type": "string"], "input": ["type": "object"],
                "lease_expires_at": ["type": ["string", "null"], "format": "date-time"],
            ],
        ],
        "Settlement": [
            "type": "object", "required": ["id", "rule", "status", "amount", "currency"],
            "properties": [
                "id": ["type": "string"], "rule": ["type": "string"], "status": ["type": "string"],
                "amount": ["type": "string", "description": "A decimal in the currency's minor unit."],
                "currency": ["type": "string"], "trigger_seq": ["type": "integer"], "maker": ["type": "string"],
            ],
        ],
    ]
}
