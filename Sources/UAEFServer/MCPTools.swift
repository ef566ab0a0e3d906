import MCP
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// The tools of ``MCPToolbox``: each names the API operation it is and the permission it needs,
/// and declares the arguments it takes as a JSON Schema, which every call is checked against
/// before the operation runs.
enum MCPTools {
    static let entries: [MCPToolbox.Entry] = [
        listWorkflows, describeWorkflow, startRun, getRun, listRuns, retryRun, listApprovals, decideApproval,
        getLedgerProof,
        listSettlements, listSchedules, triggerSchedule, backfillSchedule, listTemplates, useTemplate,
    ]

    static let reads = Tool.Annotations(readOnlyHint: true, destructiveHint: false, openWorldHint: false)

    static let listWorkflows = MCPToolbox.Entry(
        name: "list_workflows", title: "List workflows",
        description: "The latest version of each workflow registered in this tenant.",
        permission: .read, input: object([:]), operationID: "listWorkflows", annotations: reads
    ) { operations, principal, _ in
        try await operations.workflows(tenant: principal.tenant)
    }

    static let describeWorkflow = MCPToolbox.Entry(
        name: "describe_workflow", title: "Describe a workflow",
        description:
            "One workflow's definition (its YAML source: inputs, tasks, agents' capabilities, approvals) and every version registered under its name.",
        permission: .read,
        input: object(
            ["name": name("The workflow's name."), "version": positive("A version; the latest when left out.")],
            required: ["name"]),
        operationID: "getWorkflow", annotations: reads
    ) { operations, principal, arguments in
        try await operations.workflow(
            named: arguments["name"]?.stringValue ?? "", version: arguments["version"]?.numberValue?.intValue,
            tenant: principal.tenant)
    }

    static let startRun = MCPToolbox.Entry(
        name: "start_run", title: "Start a run",
        description:
            "Starts a run of a registered workflow with the given inputs; it executes at once, and get_run follows it. With an idempotency_key, a call repeated with the same key returns the run the first one started instead of starting another.",
        permission: .writeRuns,
        input: object(
            [
                "workflow": name("The workflow to run."),
                "version": positive("The workflow version to run; the latest when left out."),
                "inputs": ["type": "object", "description": "The run's inputs, as the workflow declares them."],
                "idempotency_key": [
                    "type": "string", "minLength": 1, "maxLength": 255,
                    "description": "A key of your choosing that makes retrying this call safe.",
                ],
            ], required: ["workflow"]),
        operationID: "startRun",
        annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)
    ) { operations, principal, arguments in
        var body = arguments
        let key = body.removeValue(forKey: "idempotency_key")?.stringValue
        return try await operations.startRun(
            RunRoutes.runRequest(body, idempotencyKey: key), by: principal
        ).report
    }

    static let getRun = MCPToolbox.Entry(
        name: "get_run", title: "Get a run",
        description: "A run's status, each task's state and output, and its attempts.",
        permission: .read,
        input: object(["run_id": identifier("The run's id, as start_run or list_runs gave it.")], required: ["run_id"]),
        operationID: "getRun", annotations: reads
    ) { operations, principal, arguments in
        try JSONValue(
            jsonText: try await operations.runReport(arguments["run_id"]?.stringValue ?? "", tenant: principal.tenant))
    }

    static let retryRun = MCPToolbox.Entry(
        name: "retry_run", title: "Retry a run",
        description:
            "Runs a failed or cancelled run again from where it stopped: tasks that succeeded keep their outputs and do not run again; tasks that failed or were cancelled, and every task downstream of them, run again with their retries afresh. With from, the tasks named and every task downstream of them run again too, whatever they did, and a run that succeeded may be run again (not a child its parent waited for). The run keeps its id and inputs; get_run follows it. A run that has not ended, or that succeeded with no task named, is refused.",
        permission: .writeRuns,
        input: object(
            [
                "run_id": identifier("The run's id, as start_run or list_runs gave it."),
                "from": [
                    "type": "array", "maxItems": .number(Number(RunRetry.maximumNamedTasks)),
                    "items": ["type": "string", "minLength": 1, "maxLength": 255],
                    "description": "Tasks (ids from the workflow) or fan-out instances (task[i]) to run again from.",
                ],
            ], required: ["run_id"]),
        operationID: "retryRun",
        annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)
    ) { operations, principal, arguments in
        try await operations.retryRun(
            arguments["run_id"]?.stringValue ?? "",
            from: arguments["from"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            by: principal)
    }

    static let listRuns = MCPToolbox.Entry(
        name: "list_runs", title: "List runs",
        description:
            "The tenant's runs, newest first, a page at a time; give next_cursor back as cursor for the next page.",
        permission: .read,
        input: object([
            "status": ["type": "string", "enum": .array(RunStatus.allCases.map { .string($0.rawValue) })],
            "workflow": name("Only runs of this workflow."),
            "parent": identifier("Only the child runs that this run's workflow tasks started."),
            "limit": ["type": "integer", "minimum": 1, "maximum": 1000, "description": "At most this many (50)."],
            "cursor": identifier("The next_cursor of the previous page."),
            "task_counts": [
                "type": "boolean",
                "description": "Also count each run's tasks by status (task_counts); false by default.",
            ],
        ]),
        operationID: "listRuns", annotations: reads
    ) { operations, principal, arguments in
        let filter = RunFilter(
            status: arguments["status"]?.stringValue.flatMap(RunStatus.init(rawValue:)),
            workflow: arguments["workflow"]?.stringValue, parent: arguments["parent"]?.stringValue.map(RunID.init),
            before: arguments["cursor"]?.stringValue.map(RunID.init))
        return try await operations.runs(
            matching: filter, limit: arguments["limit"]?.numberValue?.intValue ?? 50,
            taskCounts: arguments["task_counts"] == true, tenant: principal.tenant)
    }

    static let listSchedules = MCPToolbox.Entry(
        name: "list_schedules", title: "List schedules",
        description:
            "The tenant's schedules: which workflow each starts and with which inputs, its times (cron on a time zone's wall clock, or every), whether it is paused, its next slot, its last run and why its last slot started none if it did not.",
        permission: .read, input: object([:]), operationID: "listSchedules", annotations: reads
    ) { operations, principal, _ in
        try await operations.schedules(tenant: principal.tenant)
    }

    static let triggerSchedule = MCPToolbox.Entry(
        name: "trigger_schedule", title: "Trigger a schedule now",
        description:
            "Starts a schedule's workflow now, as its next slot would (its inputs, the slot input set to now), paused or not; the schedule's own slots are unchanged. get_run follows the run.",
        permission: .manageSchedules,
        input: object(["name": name("The schedule's name, as list_schedules gives it.")], required: ["name"]),
        operationID: "triggerSchedule",
        annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)
    ) { operations, principal, arguments in
        try await operations.triggerSchedule(arguments["name"]?.stringValue ?? "", by: principal).report
    }

    static let backfillSchedule = MCPToolbox.Entry(
        name: "backfill_schedule", title: "Backfill a schedule's past slots",
        description:
            "Starts the runs of a schedule's past slots from `from` to `to` (RFC 3339, both ends included, at most 1000 slots) that have none yet, each as its slot would have (the slot input set to the slot); a slot that already has its run keeps it, so calling again starts nothing twice. get_run follows the runs.",
        permission: .manageSchedules,
        input: object(
            [
                "name": name("The schedule's name, as list_schedules gives it."),
                "from": [
                    "type": "string", "format": "date-time",
                    "description": "The range's first instant, e.g. 2026-12-01T00:00:00Z.",
                ],
                "to": [
                    "type": "string", "format": "date-time", "description": "The range's last instant, not after now.",
                ],
            ], required: ["name", "from", "to"]),
        operationID: "backfillSchedule",
        annotations: .init(readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true)
    ) { operations, principal, arguments in
        try await operations.backfillSchedule(
            arguments["name"]?.stringValue ?? "", from: try ScheduleRoutes.instant(arguments, "from"),
            to: try ScheduleRoutes.instant(arguments, "to"), by: principal
        ).json
    }

    static let listTemplates = MCPToolbox.Entry(
        name: "list_templates", title: "List workflow templates",
        description:
            "Ready-made business processes (invoice approval, supplier onboarding, account reconciliation, document triage, and the operator's own), each with the parameters use_template fills in: their JSON Schemas, descriptions and defaults.",
        permission: .read, input: object([:]), operationID: "listTemplates", annotations: reads
    ) { operations, _, _ in
        operations.templateList()
    }

    static let useTemplate = MCPToolbox.Entry(
        name: "use_template", title: "Make a workflow from a template",
        description:
            "Fills in a template's parameters, validates the workflow against this tenant's agents and registers it (the template and values recorded in the ledger), so start_run can run it; with dry_run it returns the workflow without registering it. The same template and values again return the version already registered. A name taken by a workflow the template did not make is refused unless replace is true (runs, schedules and triggers then start the new version).",
        permission: .writeWorkflows,
        input: object(
            [
                "template": name("The template's name, as list_templates gives it."),
                "name": name("The workflow's name; the template's when left out."),
                "parameters": [
                    "type": "object", "description": "Values by parameter name; the others take their defaults.",
                ],
                "dry_run": [
                    "type": "boolean", "description": "True to validate and show the workflow without registering it.",
                ],
                "replace": [
                    "type": "boolean",
                    "description":
                        "True to register it as the next version of a workflow of that name that this template did not make; without it that is refused.",
                ],
            ], required: ["template"]),
        operationID: "useTemplate",
        annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)
    ) { operations, principal, arguments in
        var body = arguments
        let template = body.removeValue(forKey: "template")?.stringValue ?? ""
        return try await operations.useTemplate(template, try TemplateUse(body), by: principal).report
    }

    static let listApprovals = MCPToolbox.Entry(
        name: "list_approvals", title: "List approvals",
        description:
            "What waits for a human decision: approval tasks of running workflows (kind task), then settlements pending approval (kind settlement), each with the approval role it needs.",
        permission: .read, input: object([:]), operationID: "listApprovals", annotations: reads
    ) { operations, principal, _ in
        ["approvals": .array(try await operations.waitingApprovals(tenant: principal.tenant))]
    }

    static let decideApproval = MCPToolbox.Entry(
        name: "decide_approval", title: "Approve or reject",
        description:
            "Approves or rejects an approval task or a settlement as the caller, in one of the approval roles the caller's token grants. Whoever started the work (the maker) cannot approve it. A settlement's approval books money into the journal.",
        permission: .approve,
        input: object(
            [
                "approval_id": identifier("The id list_approvals gave."),
                "decision": ["type": "string", "enum": ["approve", "reject"]],
                "role": name("The approval role to decide in; needed only when the token grants several."),
                "reason": ["type": "string", "maxLength": 2000, "description": "Why, for the record."],
            ], required: ["approval_id", "decision"]),
        operationID: "approveApproval",
        annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)
    ) { operations, principal, arguments in
        let decision: ApprovalRecord.Decision = arguments["decision"] == "approve" ? .approve : .reject
        return try await operations.decide(
            arguments["approval_id"]?.stringValue ?? "", decision, role: arguments["role"]?.stringValue,
            reason: arguments["reason"]?.stringValue, by: principal)
    }

    static let getLedgerProof = MCPToolbox.Entry(
        name: "get_ledger_proof", title: "Get a ledger inclusion proof",
        description:
            "The RFC 6962 inclusion proof of one of the tenant's ledger events (by its sequence number) in the event log's Merkle tree, which anyone can check against a signed checkpoint's root.",
        permission: .readLedger,
        input: object(
            [
                "seq": [
                    "type": "integer", "minimum": 0, "maximum": .number(Number(Int(Int64.max - 1))),
                    "description": "The event's sequence number.",
                ],
                "tree_size": positive("The tree to prove inclusion in; the current one when left out."),
            ], required: ["seq"]),
        operationID: "getInclusionProof", annotations: reads
    ) { operations, principal, arguments in
        try await operations.inclusionProof(
            index: arguments["seq"]?.numberValue?.intValue ?? -1, size: arguments["tree_size"]?.numberValue?.intValue,
            tenant: principal.tenant)
    }

    static let listSettlements = MCPToolbox.Entry(
        name: "list_settlements", title: "List settlements",
        description:
            "The tenant's settlements (what rules charged or paid for finished work), newest first; `next`, when there are more, is the `before` of the next page.",
        permission: .read,
        input: object([
            "status": ["type": "string", "enum": .array(SettlementStatus.allCases.map { .string($0.rawValue) })],
            "limit": ["type": "integer", "minimum": 1, "maximum": 1000, "description": "At most this many (100)."],
            "before": identifier("A settlement id (an earlier answer's `next`): only settlements older than it."),
        ]),
        operationID: "listSettlements", annotations: reads
    ) { operations, principal, arguments in
        try await operations.settlements(
            status: arguments["status"]?.stringValue.flatMap(SettlementStatus.init(rawValue:)),
            before: arguments["before"]?.stringValue, limit: arguments["limit"]?.numberValue?.intValue ?? 100,
            tenant: principal.tenant)
    }

    /// An object schema with these properties and no others.
    private static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        [
            "type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string)),
            "additionalProperties": false,
        ]
    }

    private static func name(_ description: String) -> JSONValue {
        ["type": "string", "minLength": 1, "maxLength": 200, "description": .string(description)]
    }

    private static func identifier(_ description: String) -> JSONValue {
        ["type": "string", "minLength": 1, "maxLength": 128, "description": .string(description)]
    }

    private static func positive(_ description: String) -> JSONValue {
        [
            "type": "integer", "minimum": 1, "maximum": .number(Number(Int(Int32.max))),
            "description": .string(description),
        ]
    }
}
