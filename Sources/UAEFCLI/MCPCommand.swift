import ArgumentParser
import UAEFAgents
import UAEFEngine
import UAEFServer

/// `uaef mcp`: UAEF's tools for an AI assistant over the Model Context Protocol on stdio.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve UAEF's tools to an AI assistant over the Model Context Protocol (stdio).",
        discussion: """
            For desktop assistants that start their tool servers as programs (e.g. Claude Desktop's \
            "command": "uaef", "args": ["mcp", "--store", "..."]): reads JSON-RPC messages on standard \
            input, one per line, and writes only protocol messages on standard output (logs go to \
            standard error). Tools: list_workflows, describe_workflow, start_run, get_run, list_runs, \
            list_approvals, decide_approval, get_ledger_proof, list_settlements, list_schedules, \
            trigger_schedule, backfill_schedule, list_templates, use_template; the assistant sees only those its roles allow, acting as api:<subject> in \
            --tenant. The default roles (operator, auditor) read, start runs, trigger schedules, make \
            workflows from templates and read the ledger; deciding approvals needs \
            --roles approver (or admin) and --approves-as. Runs it starts execute in this process, \
            and unfinished runs of the store are resumed as uaef serve does. The same tools are \
            served over HTTP at POST /v1/mcp by uaef serve, for the principal of the bearer token. \
            Stops when standard input closes or on SIGINT/SIGTERM (exit 0); 2 for a bad option, 3 \
            when the store is unavailable.
            """)

    @Option(help: "Who the assistant acts as, recorded as the actor api:<subject>.") var subject: String = "mcp"
    @Option(help: "Comma-separated roles the assistant has (admin, operator, approver, auditor, viewer).")
    var roles: String = "operator,auditor"
    @Option(
        name: .customLong("approves-as"),
        help: "A business role the assistant may approve in (with --roles approver); repeat for more.")
    var approvalRoles: [String] = []
    @OptionGroup var hostAccess: HostAccessOptions
    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let roles = try Role.parseList(roles, option: "--roles")
        guard Principal.isValidSubject(subject) else {
            throw CLIError.usage("--subject must be 1 to 256 printable characters")
        }
        let access = try hostAccess.connectorAccess()
        let templates = try templateOptions.catalog()
        let kinds = try hostAccess.kinds(granting: .administratorsAgents)
        try await engineOptions.withEngine(kinds: kinds, connectors: access) { engine in
            let signer = try await LedgerKeys.signer(engineOptions.storeOptions, store: engine.store)
            let principal = Principal(
                subject: subject, tenant: engine.tenant, roles: roles, approvalRoles: Set(approvalRoles))
            try await MCPStdioServer.run(
                runtime: ServerRuntime(engine: engine, signer: signer), principal: principal, templates: templates,
                logger: engine.logger)
        }
    }
}
