import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import UAEFConsole
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFSchedules
import UAEFSettlement
import UAEFStore
import UAEFTemplates

/// The web console at `/`: server-rendered pages over the same operations, permissions and
/// tenants as the `/v1` API, signed in with a session cookie (``ConsoleSession``) that holds the
/// user's access token. Forms carry the session's CSRF token and must come from this origin;
/// pages update live through the console's own event streams (`/console/live…`).
struct ConsoleRoutes {
    let operations: APIOperations
    let authority: TokenAuthority?
    /// Whether cookies get `Secure`: everywhere but on a loopback address.
    let secureCookies: Bool
    let failures: RateLimiter
    let rateLimiter: RateLimiter?
    let bodyLimit: Int
    let events: EventStreamRoutes
    let renderer = ConsoleRenderer()
    /// Runs' workflow definitions by their source text, parsed once (a run page is re-rendered
    /// on every event while someone watches it).
    let definitions = BoundedCache<WorkflowDefinition>(capacity: 64)

    var runtime: ServerRuntime { operations.runtime }
    var store: any WorkflowStore { operations.store }

    /// True for a route path of the console (pages, forms, its assets and live streams), as
    /// registered (`runs/:id`) or asked for: everything but `/v1`, the probes, the metrics and the
    /// OpenAPI document.
    static func isPage(_ path: String) -> Bool {
        let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let first = trimmed.split(separator: "/").first.map(String.init) ?? ""
        return !["v1", "healthz", "readyz", "openapi.json", "metrics"].contains(first)
    }

    /// Runs a page lists at a time.
    static let pageSize = 50

    func add(to router: Router<APIContext>) {
        router.get("console/console.css") { _, _ in
            Self.asset(ConsoleRenderer.stylesheet, type: "text/css; charset=utf-8")
        }
        router.get("console/console.js") { _, _ in
            Self.asset(ConsoleRenderer.script, type: "text/javascript; charset=utf-8")
        }
        let open = router.group().add(
            middleware: ConsoleErrorMiddleware(renderer: renderer, secureCookies: secureCookies))
        open.get("/") { _, _ in Self.redirect("/runs") }
        open.get("login") { request, _ in try await loginPage(request) }
        open.post("login") { request, context in try await signIn(request, context: context) }

        var pages = open.add(
            middleware: AuthenticationMiddleware(
                authority: authority, store: store, failures: failures, credentials: .consoleSession))
        if let rateLimiter { pages = pages.add(middleware: RateLimitMiddleware(limiter: rateLimiter)) }
        pages.post("logout") { request, context in
            _ = try await form(request, context)
            var response = Self.redirect("/login")
            response.headers[.setCookie] = ConsoleSession.clearCookie(secure: secureCookies)
            return response
        }
        pages.get("runs") { request, context in try await runsPage(request, context) }
        pages.post("runs") { request, context in try await startRun(request, context) }
        pages.get("runs/:id") { request, context in try await runPage(request, context) }
        pages.get("runs/:id/tasks/:key") { request, context in try await taskPage(request, context) }
        pages.post("runs/:id/cancel") { request, context in
            let principal = try context.require(.writeRuns)
            let fields = try await form(request, context)
            let id = try context.parameters.require("id")
            try await operations.cancelRun(id, tree: fields["tree"] == "1", by: principal)
            return Self.redirect("/runs/\(id)")
        }
        pages.post("runs/:id/retry") { request, context in
            let principal = try context.require(.writeRuns)
            let fields = try await form(request, context)
            let id = try context.parameters.require("id")
            _ = try await operations.retryRun(id, from: fields["from"].map { [$0] } ?? [], by: principal)
            return Self.redirect("/runs/\(id)")
        }
        pages.get("approvals") { request, context in
            let principal = try context.require(.read)
            let done = ["approved", "rejected"].first { request.uri.queryParameters[Substring($0)] != nil }
            let notice = done.flatMap { done in
                Self.query(request, done).map { (text: "\($0) \(done).", isError: false) }
            }
            return try await approvalsPage(request, context, principal: principal, notice: notice)
        }
        pages.post("approvals/:id/decide") { request, context in try await decide(request, context) }
        pages.get("ledger") { request, context in try await ledgerPage(request, context) }
        pages.get("agents") { request, context in try await agentsPage(request, context) }
        pages.get("schedules") { request, context in
            // The notice is built here from numbers, never shown as the link gives it.
            let counts = ["created", "slots"].compactMap { Self.query(request, $0).flatMap { Int($0) } }
            let notice = Self.query(request, "backfilled").flatMap { name -> (text: String, isError: Bool)? in
                guard counts.count == 2, WorkflowParser.isValidName(name) else { return nil }
                let text =
                    counts[0] == counts[1]
                    ? "\(name): \(counts[1]) slots started a run."
                    : "\(name): \(counts[0]) of \(counts[1]) slots started a run; the others had theirs."
                return (text, false)
            }
            return try await schedulesPage(request, context, notice: notice)
        }
        pages.post("schedules/:name/backfill") { request, context in try await backfill(request, context) }
        pages.post("schedules/:name/pause") { request, context in
            let principal = try context.require(.manageSchedules)
            let fields = try await form(request, context)
            let name = try context.parameters.require("name")
            let note: String?
            do {
                note = try ScheduleRoutes.pauseNote(
                    (fields["note"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
            } catch let problem as Problem {
                return try await schedulesPage(
                    request, context, notice: ("\(name) was not paused: \(problem.detail)", true),
                    status: problem.status)
            }
            _ = try await operations.scheduleRegistry(tenant: principal.tenant).pause(
                name, note: note, actor: principal.actor)
            return Self.redirect("/schedules")
        }
        pages.post("schedules/:name/resume") { request, context in
            let principal = try context.require(.manageSchedules)
            _ = try await form(request, context)
            _ = try await operations.scheduleRegistry(tenant: principal.tenant).resume(
                try context.parameters.require("name"), actor: principal.actor)
            return Self.redirect("/schedules")
        }
        pages.post("schedules/:name/trigger") { request, context in
            let principal = try context.require(.manageSchedules)
            _ = try await form(request, context)
            let started = try await operations.triggerSchedule(try context.parameters.require("name"), by: principal)
            return Self.redirect("/runs/\(started.run)")
        }
        pages.get("templates") { request, context in
            let principal = try context.require(.read)
            // Said only of a workflow the tenant has, so a link cannot make the page say anything else.
            var notice: (text: String, isError: Bool)?
            if let name = Self.query(request, "registered"), WorkflowParser.isValidName(name),
                let latest = try await store.workflowVersions(named: name, tenant: principal.tenant).last
            {
                notice = ("Workflow \(name) version \(latest.version) registered; start it from Runs.", false)
            }
            return try await templatesPage(request, context, principal: principal, notice: notice)
        }
        pages.post("templates/:name") { request, context in try await useTemplate(request, context) }
        pages.get("analytics") { request, context in try await analyticsPage(request, context) }
        pages.get("settlements") { request, context in try await settlementsPage(request, context) }
        pages.get("settlements/:id") { request, context in try await settlementPage(request, context) }
        pages.get("accounts") { request, context in
            let principal = try context.require(.read)
            return try await page(request, context, principal, title: "Accounts", path: "/settlements", "accounts") {
                AccountsView(SettlementJSON.accounts(try await store.accounts(tenant: principal.tenant)))
            }
        }
        pages.get("journal") { request, context in
            let principal = try context.require(.read)
            let from = try request.integerQuery("from", in: 1...Int(Int64.max)) ?? 1
            return try await page(
                request, context, principal, title: "Journal", path: "/settlements", "journal", live: .none
            ) {
                let transfers = try await store.transfers(
                    tenant: principal.tenant, from: Int64(from), limit: Self.pageSize + 1)
                return JournalView(transfers: transfers.map(SettlementJSON.transfer), from: from, limit: Self.pageSize)
            }
        }
        for (verb, status) in APIOperations.agentMoves {
            pages.post("agents/:id/\(verb)") { request, context in
                let principal = try context.require(.writeAgents)
                _ = try await form(request, context)
                _ = try await operations.moveAgent(try context.parameters.require("id"), to: status, by: principal)
                return Self.redirect("/agents")
            }
        }
        pages.get("console/live") { request, context in
            let principal = try context.require(.read)
            return events.stream(
                from: try events.startSeq(request) ?? 0, principal: principal, run: nil, message: Self.liveMessage)
        }
        pages.get("console/live/runs/:id") { request, context in
            let principal = try context.require(.read)
            let id = try await events.existingRun(try context.parameters.require("id"), tenant: principal.tenant)
            return events.stream(
                from: try events.startSeq(request) ?? 0, principal: principal, run: id, message: Self.liveMessage)
        }
    }

    // MARK: Sign-in

    private func loginPage(_ request: Request) async throws -> Response {
        let next = Self.localPath(request.uri.queryParameters["next"].map(String.init))
        guard authority != nil else {
            // Without token authentication (loopback only) everyone is the local administrator;
            // the session exists for its CSRF token.
            return signedIn(ConsoleSession.local(), maxAge: 12 * 3600, next: next)
        }
        let ended = request.uri.queryParameters["ended"] != nil
        return login(
            next: next,
            message: ended ? "Your session ended: the token expired or is no longer accepted. Sign in again." : nil)
    }

    /// The sign-in page, with `message` above the form (and `status`) when there is one.
    private func login(next: String, message: String?, status: HTTPResponse.Status = .ok) -> Response {
        var view = ["next": next]
        view["message"] = message
        return html(
            renderer.page(
                .init(title: "Sign in", signedIn: false, path: "/login"), body: renderer.render("login", view)),
            status: status)
    }

    private func signIn(_ request: Request, context: APIContext) async throws -> Response {
        try Self.checkOrigin(request)
        guard let authority else { return try await loginPage(request) }
        let client = context.clientAddress ?? "unknown"
        if let wait = failures.waitIfEmpty(client) {
            throw Problem.tooManyRequests("too many failed sign-ins from \(client)", retryAfter: wait)
        }
        let fields = try await Self.fields(of: request, limit: 16 * 1024)
        let next = Self.localPath(fields["next"])
        func refuse(_ message: String) -> Response { login(next: next, message: message, status: .unauthorized) }
        guard let token = fields["token"] else { return refuse("Paste an access token to sign in.") }
        guard ConsoleSession.isCookieSafe(token) else {
            _ = failures.take(client)
            return refuse("That is not an access token: a token is a JWT (three base64url parts joined by dots).")
        }
        do {
            let verified = try await authority.verified(token)
            guard verified.principal.may(.read) else {
                return refuse("This token's roles do not include reading the tenant's data, which the console needs.")
            }
            let maxAge = Int(verified.expiry.timeIntervalSinceNow.rounded(.down))
            return signedIn(ConsoleSession(value: token), maxAge: maxAge, next: next)
        } catch let problem as Problem where problem.status == .unauthorized {
            _ = failures.take(client)
            return refuse("The token was refused: \(problem.detail).")
        }
    }

    private func signedIn(_ session: ConsoleSession, maxAge: Int, next: String) -> Response {
        var response = Self.redirect(next)
        response.headers[.setCookie] = session.setCookie(maxAge: maxAge, secure: secureCookies)
        return response
    }

    // MARK: Runs

    private func runsPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        var filters = RunsView.Filters()
        if let status = try request.textQuery("status").flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let parsed = RunStatus(rawValue: status) else {
                let valid = RunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.badRequest("status \(status.prefix(40)) is not a run status; use one of \(valid)")
            }
            filters.status = parsed
        }
        filters.workflow = Self.query(request, "workflow")
        if let since = Self.query(request, "since") {
            guard let time = RunsView.Filters.time(since) else {
                throw Problem.badRequest("since \(since.prefix(40)) is not a time; use 2026-12-03T10:15 (UTC)")
            }
            filters.since = time
        }
        filters.cursor = Self.query(request, "cursor").map(RunID.init)
        return try await page(request, context, principal, title: "Runs", path: "/runs", "runs") {
            let page = try await store.runs(
                tenant: principal.tenant, matching: filters.runFilter, limit: Self.pageSize + 1)
            var workflows: [RunsView.WorkflowOption] = []
            if principal.may(.writeRuns) && !Self.isFragment(request) {
                workflows = try await store.workflows(tenant: principal.tenant).map {
                    .init(name: $0.name, version: $0.version)
                }
            }
            let counts = try await store.taskCounts(of: page.prefix(Self.pageSize).map(\.id), tenant: principal.tenant)
            return RunsView(
                filters: filters, page: page, taskCounts: counts, limit: Self.pageSize, now: Date(),
                canStart: principal.may(.writeRuns), csrf: context.consoleSession?.csrfToken ?? "", workflows: workflows
            )
        }
    }

    private func startRun(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.writeRuns)
        let fields = try await form(request, context)
        var body: [String: JSONValue] = [:]
        if let workflow = fields["workflow"] { body["workflow"] = .string(workflow) }
        if let inputs = fields["inputs"] {
            do {
                body["inputs"] = try JSONValue(jsonText: inputs)
            } catch {
                throw Problem(
                    .unprocessableContent, "validation-failed",
                    "inputs: not JSON (\(error)); give a JSON object or nothing")
            }
        }
        let start = try await operations.startRun(RunRoutes.runRequest(body, idempotencyKey: nil), by: principal)
        return Self.redirect("/runs/\(start.run)")
    }

    private func runPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = try context.parameters.require("id")
        let eventsFrom = try Self.eventsFrom(request)
        // The page stops listening once it shows the run ended.
        return try await page(request, context, principal, title: "Run \(id)", path: "/runs", "run", live: .run(id)) {
            guard let snapshot = try await store.snapshot(of: RunID(id), tenant: principal.tenant) else {
                throw Problem.notFound("run \(id)")
            }
            let definition = try? definitions.value(for: snapshot.run.workflowSource) {
                try WorkflowParser.parse(
                    snapshot.run.workflowSource, file: snapshot.run.workflowFile,
                    catalog: runtime.engine.kinds.catalog(capabilities: nil))
            }
            let events = try await store.runEvents(
                of: snapshot.run.id, tenant: principal.tenant, from: eventsFrom, limit: RunView.eventLimit + 1)
            let children = try await store.runs(
                tenant: principal.tenant, matching: RunFilter(parent: snapshot.run.id), limit: RunView.childLimit + 1)
            return RunView(
                snapshot: snapshot, definition: definition, events: events, eventsFrom: eventsFrom,
                children: children, now: Date(),
                mayWriteRuns: principal.may(.writeRuns), ledgerLinks: principal.may(.readLedger),
                csrf: context.consoleSession?.csrfToken ?? "")
        }
    }

    /// One task of a run: its attempts with their inputs, its output and its events.
    private func taskPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = try context.parameters.require("id")
        let raw = try context.parameters.require("key")
        let key = raw.removingPercentEncoding ?? raw
        let eventsFrom = try Self.eventsFrom(request)
        return try await page(
            request, context, principal, title: "Task \(key) of run \(id)", path: "/runs", "task", live: .run(id)
        ) {
            guard let snapshot = try await store.snapshot(of: RunID(id), tenant: principal.tenant) else {
                throw Problem.notFound("run \(id)")
            }
            guard let task = snapshot.tasks.first(where: { $0.key == key }) else {
                throw Problem.notFound("task \(key.prefix(200)) of run \(id)")
            }
            func events(from seq: Int64) async throws -> [EventRecord] {
                try await store.taskEvents(
                    of: snapshot.run.id, key: key, tenant: principal.tenant, from: seq, limit: TaskView.eventLimit + 1)
            }
            let shown = try await events(from: eventsFrom)
            return TaskView(
                run: snapshot.run, task: task, attempts: snapshot.attempts.filter { $0.key == key }, events: shown,
                eventsFrom: eventsFrom, firstEvents: eventsFrom > 0 ? try await events(from: 0) : nil, now: Date(),
                ledgerLinks: principal.may(.readLedger), payloads: principal.may(.readLedger))
        }
    }

    /// The seq a run's or a task's page lists events from (`?events_from=`, 0 without it).
    private static func eventsFrom(_ request: Request) throws -> Int64 {
        Int64(try request.integerQuery(EventPages.parameter, in: 0...Int(Int64.max)) ?? 0)
    }

    // MARK: Approvals

    private func approvalsPage(
        _ request: Request, _ context: APIContext, principal: Principal, notice: (text: String, isError: Bool)? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        try await page(request, context, principal, title: "Approvals", path: "/approvals", "approvals", status: status)
        {
            ApprovalsView(
                waiting: try await operations.waitingApprovals(tenant: principal.tenant),
                approvalRoles: principal.approvalRoles, mayApprove: principal.may(.approve),
                csrf: context.consoleSession?.csrfToken ?? "", notice: notice?.text,
                noticeIsError: notice?.isError ?? false)
        }
    }

    /// Approves or rejects as the form says; the page comes back with what happened, or with
    /// the server's refusal (the maker approving their own work, a role not held, …).
    private func decide(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.approve)
        let fields = try await form(request, context)
        let id = try context.parameters.require("id")
        guard let decision = fields["decision"].flatMap(ApprovalRecord.Decision.init(rawValue:)) else {
            throw Problem.badRequest("decision: give approve or reject")
        }
        let done = decision == .approve ? "approved" : "rejected"
        do {
            _ = try await operations.decide(id, decision, role: fields["role"], reason: fields["reason"], by: principal)
        } catch {
            // Another tenant's or an unknown approval is a plain 404; a refusal is shown in the inbox.
            let problem = ProblemMiddleware.problem(for: error, logger: context.logger, requestID: "\(context.id)")
            guard problem.status != .notFound, problem.status != .internalServerError else { throw problem }
            return try await approvalsPage(
                request, context, principal: principal, notice: ("\(id) was not \(done): \(problem.detail)", true),
                status: problem.status)
        }
        return Self.redirect(
            "/approvals?\(done)=\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }

    // MARK: Agents

    private func agentsPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        return try await page(request, context, principal, title: "Agents", path: "/agents", "agents") {
            let agents = try await store.agents(tenant: principal.tenant)
            var usage: [AgentID: ConversationTotals] = [:]
            for agent in agents where agent.kind == "llm" {
                usage[agent.id] = try await store.conversationTotals(tenant: principal.tenant, agent: agent.name)
            }
            return AgentsView(
                agents: agents, metrics: try await store.metrics(of: agents.map(\.id)), usage: usage,
                mayManage: principal.may(.writeAgents), csrf: context.consoleSession?.csrfToken ?? "")
        }
    }

    // MARK: Schedules

    private func schedulesPage(
        _ request: Request, _ context: APIContext, notice: (text: String, isError: Bool)? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let principal = try context.require(.read)
        return try await page(
            request, context, principal, title: "Schedules", path: "/schedules", "schedules", live: .none,
            status: status
        ) {
            let records = try await store.schedules(tenant: principal.tenant)
            return SchedulesView(
                schedules: records.map { ($0, ScheduleReport.times($0), ScheduleReport.slots($0, count: 3)) },
                mayManage: principal.may(.manageSchedules), csrf: context.consoleSession?.csrfToken ?? "",
                notice: notice?.text, noticeIsError: notice?.isError ?? false)
        }
    }

    /// Starts the runs of a schedule's past slots from the form's `from` to `to` (UTC, as the
    /// browser's datetime-local fields give them); the page comes back saying how many started,
    /// or why none could.
    private func backfill(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.manageSchedules)
        let fields = try await form(request, context)
        let name = try context.parameters.require("name")
        do {
            guard let from = fields["from"].flatMap(RunsView.Filters.time),
                let to = fields["to"].flatMap(RunsView.Filters.time)
            else {
                throw Problem(
                    .unprocessableContent, "validation-failed", "give both times, e.g. 2026-12-01T00:00 (UTC)")
            }
            let backfill = try await operations.backfillSchedule(name, from: from, to: to, by: principal)
            let created = backfill.slots.filter(\.created).count
            let query = "backfilled=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            return Self.redirect("/schedules?\(query)&created=\(created)&slots=\(backfill.slots.count)")
        } catch {
            let problem = ProblemMiddleware.problem(for: error, logger: context.logger, requestID: "\(context.id)")
            guard problem.status == .unprocessableContent else { throw problem }
            return try await schedulesPage(
                request, context, notice: ("\(name) was not backfilled: \(problem.detail)", true),
                status: problem.status)
        }
    }

    // MARK: Templates

    private func templatesPage(
        _ request: Request, _ context: APIContext, principal: Principal,
        notice: (text: String, isError: Bool)? = nil, subject: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        try await page(
            request, context, principal, title: "Templates", path: "/templates", "templates", live: .none,
            status: status
        ) {
            TemplatesView(
                templates: operations.templateList()["templates"]?.arrayValue ?? [],
                mayRegister: principal.may(.writeWorkflows), csrf: context.consoleSession?.csrfToken ?? "",
                notice: notice?.text, noticeIsError: notice?.isError ?? false, subject: subject)
        }
    }

    /// Makes and registers a workflow from the form: each `param.NAME` field is the parameter's
    /// value as typed (``TemplateParameter/value(typed:)``); an empty field takes the default.
    /// A refusal (a bad value, a name another workflow has) comes back on the page, the form open.
    private func useTemplate(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.writeWorkflows)
        let fields = try await form(request, context)
        let name = try context.parameters.require("name")
        let template = try operations.template(named: name)
        do {
            var values: [String: JSONValue] = [:]
            for parameter in template.parameters {
                guard let text = fields["param.\(parameter.name)"], !text.isEmpty else { continue }
                values[parameter.name] = parameter.value(typed: text)
            }
            let workflow = fields["workflow"].flatMap { $0.isEmpty ? nil : $0 }
            let made = try await operations.useTemplate(
                name, TemplateUse(workflowName: workflow, parameters: values), by: principal)
            let registered = made.registered?.workflow.name ?? workflow ?? name
            return Self.redirect(
                "/templates?registered=\(registered.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            )
        } catch {
            let problem = ProblemMiddleware.problem(for: error, logger: context.logger, requestID: "\(context.id)")
            guard problem.status == .unprocessableContent || problem.status == .conflict else { throw problem }
            return try await templatesPage(
                request, context, principal: principal, notice: ("\(name): \(problem.detail)", true), subject: name,
                status: problem.status)
        }
    }

    // MARK: Analytics

    private func analyticsPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let name = Self.query(request, "dimension") ?? AnalyticsDimension.workflows.rawValue
        guard let dimension = AnalyticsDimension(rawValue: name) else {
            let valid = AnalyticsDimension.allCases.map(\.rawValue).joined(separator: ", ")
            throw Problem.badRequest("dimension \(name.prefix(40)) is not one of \(valid)")
        }
        let query = try AnalyticsQuery(dimension: dimension, request: { Self.query(request, $0) })
        return try await page(request, context, principal, title: "Analytics", path: "/analytics", "analytics") {
            let (report, cursor) = try await store.analytics(query, tenant: principal.tenant)
            var names: [String: String] = [:]
            if dimension == .agents {
                for agent in try await store.agents(tenant: principal.tenant) { names[agent.id.rawValue] = agent.name }
            }
            return AnalyticsView(report: report, days: query.days, end: query.end, countedBefore: cursor, names: names)
        }
    }

    // MARK: Money

    private func settlementsPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        var status: SettlementStatus?
        if let text = Self.query(request, "status") {
            guard let parsed = SettlementStatus(rawValue: text) else {
                let valid = SettlementStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.badRequest("status \(text.prefix(40)) is not a settlement status; use one of \(valid)")
            }
            status = parsed
        }
        let before = Self.query(request, "before")
        return try await page(request, context, principal, title: "Settlements", path: "/settlements", "settlements") {
            let page = try await operations.settlements(
                status: status, before: before, limit: Self.pageSize, tenant: principal.tenant)
            return SettlementsView(
                settlements: page["settlements"]?.arrayValue ?? [], status: status?.rawValue,
                all: SettlementStatus.allCases.map(\.rawValue), limit: Self.pageSize, older: before != nil,
                next: page["next"]?.stringValue)
        }
    }

    private func settlementPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.read)
        let id = try context.parameters.require("id")
        return try await page(
            request, context, principal, title: "Settlement \(id)", path: "/settlements", "settlement"
        ) {
            guard let (settlement, transfers, approvals) = try await store.settlement(id, tenant: principal.tenant)
            else { throw Problem.notFound("settlement \(id)") }
            var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
            value["detail"] = settlement.detail
            value["transfers"] = .array(transfers.map(SettlementJSON.transfer))
            value["approvals"] = .array(approvals.map(SettlementJSON.approval))
            let trigger = try await store.events(
                in: settlement.triggerSeq..<(settlement.triggerSeq + 1), tenant: principal.tenant
            ).first
            return SettlementView(
                .object(value), trigger: trigger.map { ($0.event.type, $0.event.subject) },
                ledgerLinks: principal.may(.readLedger))
        }
    }

    /// What a page listens to for its live region.
    enum LiveStream: Equatable {
        /// The tenant's events.
        case tenant
        /// One run's events.
        case run(String)
        /// Nothing: the page is not live.
        case none
    }

    /// A page whose body is `template` rendered with the view `makeView` returns. A live page's
    /// template holds its region as the partial `<template>-region`, which alone answers the
    /// script's fragment requests; its stream starts at the log's size noted before the view's
    /// data is read, so that nothing committed meanwhile is missed.
    private func page<View: Sendable>(
        _ request: Request, _ context: APIContext, _ principal: Principal, title: String, path: String,
        _ template: String, live: LiveStream = .tenant, status: HTTPResponse.Status = .ok,
        view makeView: () async throws -> View
    ) async throws -> Response {
        let fragment = live != .none && Self.isFragment(request)
        let head = live == .none || fragment ? 0 : try await store.treeHead().size
        let view = try await makeView()
        if fragment { return html(renderer.render(template + "-region", view), status: status) }
        let stream: String? =
            switch live {
            case .tenant: "/console/live?from=\(head)"
            case .run(let id): "/console/live/runs/\(id)?from=\(head)"
            case .none: nil
            }
        return html(
            renderer.page(
                frame(principal, context, title: title, path: path, live: stream), body: renderer.render(template, view)
            ),
            status: status)
    }

    // MARK: Ledger

    private func ledgerPage(_ request: Request, _ context: APIContext) async throws -> Response {
        let principal = try context.require(.readLedger)
        let note = try await Checkpointer(store: store, signer: runtime.signer).checkpoint()
        let verified = try? Checkpoint.open(note, verifier: runtime.signer.verifier)
        // Shown even when the signature fails, read from the note's body (its first three lines).
        let body = note.components(separatedBy: "\n\n").first.map { $0 + "\n" } ?? ""
        let checkpoint = try verified ?? Checkpoint(body: body)
        var event: LedgerView.Event?
        let asked = Self.query(request, "index")
        if let asked {
            guard let index = Int(asked), index >= 0, index < Int(Int64.max) else {
                throw Problem.badRequest("index \(asked.prefix(20)) is not an event index (an integer from 0)")
            }
            // Another tenant's event does not exist for this principal.
            guard
                let record = try await store.events(in: Int64(index)..<Int64(index) + 1, tenant: principal.tenant).first
            else { throw Problem.notFound("event \(index)") }
            let bytes = CanonicalJSON.bytes(record.ledgerObject)
            let proof =
                index < checkpoint.size
                ? try await store.inclusionProof(index: index, size: checkpoint.size)?.map(\.base64) : nil
            event = LedgerView.Event(
                index: index, type: record.event.type, subject: record.event.subject,
                time: Timestamp.format(record.event.time), actor: record.event.actor,
                canonical: String(decoding: bytes, as: UTF8.self), leafHash: MerkleHash.leaf(bytes).base64, proof: proof
            )
        }
        let view = LedgerView(
            note: note, treeSize: checkpoint.size, root: checkpoint.root.base64,
            verifierKey: runtime.signer.verifier.text, signatureValid: verified != nil, index: asked ?? "", event: event
        )
        return html(
            renderer.page(
                frame(principal, context, title: "Ledger", path: "/ledger", live: nil),
                body: renderer.render("ledger", view)))
    }

    // MARK: Helpers

    private func frame(_ principal: Principal, _ context: APIContext, title: String, path: String, live: String?)
        -> ConsoleRenderer.Frame
    {
        Self.frame(principal, session: context.consoleSession, title: title, path: path, live: live)
    }

    /// The frame of a page `principal` sees in `session`.
    static func frame(_ principal: Principal, session: ConsoleSession?, title: String, path: String, live: String?)
        -> ConsoleRenderer.Frame
    {
        ConsoleRenderer.Frame(
            title: title, signedIn: true, subject: principal.subject, tenant: principal.tenant,
            roles: principal.roles.map(\.rawValue).sorted().joined(separator: ", "),
            csrf: session?.csrfToken ?? "", path: path, live: live,
            hiddenSections: principal.may(.readLedger) ? [] : ["/ledger"])
    }

    /// A state-changing request's form, after checking that it comes from this origin and carries
    /// the session's CSRF token (403 otherwise).
    private func form(_ request: Request, _ context: APIContext) async throws -> ConsoleForm {
        try Self.checkOrigin(request)
        let fields = try await Self.fields(of: request, limit: bodyLimit)
        guard let session = context.consoleSession, session.accepts(csrf: fields[ConsoleSession.csrfField]) else {
            throw Problem(
                .forbidden, "csrf-failed",
                "the form's CSRF token does not match your session; reload the page and try again")
        }
        return fields
    }

    private static func fields(of request: Request, limit: Int) async throws -> ConsoleForm {
        let text = try await JSONMessage.text(of: request, limit: limit)
        do {
            return try ConsoleForm(body: text)
        } catch {
            throw Problem.badRequest(error.description)
        }
    }

    /// Refuses a request whose `Origin` is another site's (browsers send it with every POST).
    private static func checkOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin], let host = request.head.authority else {
            return
        }
        let originHost = origin.split(separator: "://", maxSplits: 1).last.map(String.init) ?? origin
        guard originHost == host else {
            throw Problem(.forbidden, "cross-origin", "the console accepts forms from its own pages only")
        }
    }

    /// A console stream's message: an unnamed event (so one handler sees them all) with the
    /// event's seq, type and subject, never its data.
    @Sendable static func liveMessage(_ record: EventRecord, withPayloads: Bool) -> String {
        let data: JSONValue = [
            "seq": .number(Number(Int(record.seq))), "type": .string(record.event.type),
            "subject": .string(record.event.subject),
        ]
        return "id: \(record.seq)\ndata: \(data.jsonText)\n\n"
    }

    private static func query(_ request: Request, _ name: String) -> String? {
        guard let value = request.uri.queryParameters[Substring(name)], !value.isEmpty else { return nil }
        return String(value)
    }

    private static func isFragment(_ request: Request) -> Bool { request.headers[.consoleFragment] != nil }

    /// `next` when it is a path on this server, else `/runs` (no open redirect).
    static func localPath(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return "/runs" }
        return next
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    private func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Self.html(text, status: status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Sent with every page: scripts and styles from this origin only, no framing, no sniffing.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        .xContentTypeOptions: "nosniff", .referrerPolicy: "same-origin", .cacheControl: "no-store",
        .xFrameOptions: "DENY",
    ]
}

/// Answers the console's failures as pages: a missing or ended session goes to the sign-in page
/// (back to where it was afterwards); any other problem is a page that says what went wrong.
struct ConsoleErrorMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let renderer: ConsoleRenderer
    let secureCookies: Bool

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let problem = ProblemMiddleware.problem(for: error, logger: context.logger, requestID: "\(context.id)")
            if problem.status == .unauthorized {
                let back = request.method == .get ? request.uri.description : "/runs"
                let ended = problem.kind == AuthenticationMiddleware.signInRequired ? "" : "&ended=1"
                var response = ConsoleRoutes.redirect(
                    "/login?next=\(back.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/runs")\(ended)"
                )
                if !ended.isEmpty { response.headers[.setCookie] = ConsoleSession.clearCookie(secure: secureCookies) }
                return response
            }
            var response = page(problem.status, problem.detail, request, context)
            for field in problem.headers { response.headers.append(field) }
            return response
        }
    }

    /// The error page, with the navigation bar when someone is signed in.
    private func page(_ status: HTTPResponse.Status, _ detail: String, _ request: Request, _ context: APIContext)
        -> Response
    {
        let heading =
            switch status {
            case .notFound: "Not found"
            case .forbidden: "Not allowed"
            case .tooManyRequests: "Too many requests"
            case .internalServerError: "Something went wrong"
            default: "That did not work"
            }
        let body = renderer.render("error", ["heading": heading, "detail": detail])
        var frame = ConsoleRenderer.Frame(title: heading, signedIn: false, path: "/")
        if let principal = context.caller.withLock({ $0 }),
            let session = ConsoleSession.from(cookieHeader: request.headers[.cookie])
        {
            frame = ConsoleRoutes.frame(principal, session: session, title: heading, path: "/", live: nil)
        }
        return ConsoleRoutes.html(renderer.page(frame, body: body), status: status)
    }
}

extension HTTPField.Name {
    /// Asks a console page for its live region alone (the page's script re-rendering it).
    static let consoleFragment = HTTPField.Name("X-UAEF-Fragment")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
