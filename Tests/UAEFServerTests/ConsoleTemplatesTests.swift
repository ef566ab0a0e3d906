import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore

/// The console's templates page, over real HTTP on loopback.
@Suite("Console: templates")
struct ConsoleTemplatesTests {
    /// Without token authentication (loopback) any session is the local administrator's.
    static let session = [("Cookie", "uaef_session=local.test")]

    @Test(
        "the page lists each template with its parameters; its form registers a workflow, and a bad value comes back on the page"
    )
    func templatesPage() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            let agents = """
                agents:
                  - {name: reader, kind: echo, capabilities: [invoice.extract], activate: true}
                  - {name: erp, kind: echo, capabilities: [erp.post], activate: true}
                """
            #expect(try await server.send(.POST, "/v1/agents", body: agents).status == 201)
            let page = try await server.send(.GET, "/templates", headers: Self.session)
            #expect(page.status == 200)
            #expect(
                page.body.contains("<section class=\"template\" data-template=\"invoice-approval\">"), "\(page.body)")
            #expect(page.body.contains("href=\"/templates\""), "the navigation links the page")
            #expect(page.body.contains("number at least 0"))
            #expect(
                page.body.contains(
                    "id=\"invoice-approval-approval_threshold\" name=\"param.approval_threshold\" value=\"1000\""))
            let csrf = try #require(
                page.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" })

            // The client follows the form's 303, as a browser does: the answer is the page it names.
            let form = [("Content-Type", "application/x-www-form-urlencoded")] + Self.session
            let made = try await server.send(
                .POST, "/templates/invoice-approval",
                body:
                    "csrf=\(csrf)&workflow=eu-invoices&param.approval_threshold=5000&param.approver_role=controller&param.timeout=",
                headers: form)
            #expect(
                made.status == 200 && made.body.contains("Workflow eu-invoices version 1 registered"), "\(made.body)")
            let spoofed = try await server.send(
                .GET, "/templates?registered=your-password-expired", headers: Self.session)
            #expect(!spoofed.body.contains("password"), "a notice only of a workflow the tenant has")
            let source = try #require(
                try await server.store.workflowVersions(named: "eu-invoices", tenant: "default").last?.source)
            #expect(
                source.contains("role: \"controller\"") && source.contains("total > 5000")
                    && source.contains("timeout: \"72h\""))

            let refused = try await server.send(
                .POST, "/templates/invoice-approval",
                body: "csrf=\(csrf)&workflow=eu-invoices&param.approvers=nine", headers: form)
            #expect(refused.status == 422)
            #expect(refused.body.contains("approvers: $: expected integer, got string"), "\(refused.body)")
            #expect(refused.body.contains("<details class=\"start\" open>"), "the template's form opens again")
            let outOfRange = try await server.send(
                .POST, "/templates/invoice-approval", body: "csrf=\(csrf)&param.approvers=9", headers: form)
            #expect(outOfRange.status == 422 && outOfRange.body.contains("approvers"))
            #expect(try await server.store.workflowVersions(named: "eu-invoices", tenant: "default").count == 1)
            #expect(try await server.store.workflowVersions(named: "invoice-approval", tenant: "default").isEmpty)
            let forged = try await server.send(
                .POST, "/templates/invoice-approval", body: "csrf=forged&workflow=x", headers: form)
            #expect(forged.status == 403)
            #expect(try await server.send(.POST, "/templates/nope", body: "csrf=\(csrf)", headers: form).status == 404)
        }
    }
}
