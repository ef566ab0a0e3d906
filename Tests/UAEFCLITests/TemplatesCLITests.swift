import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef templates (real processes, real SQLite files)")
struct TemplatesCLITests {
    @Test(
        "list, show, use to stdout and to a file, and use --register, which records the template and values in the ledger"
    )
    func listShowUseRegister() throws {
        let directory = try TemporaryDirectory("templates-cli")
        defer { directory.remove() }
        let store = ["--store", "sqlite:" + directory.path("t.db")]
        func uaef(_ arguments: [String]) throws -> CommandResult {
            try UAEFProcess.run(arguments + store, in: directory.url)
        }
        func catalogue(_ arguments: [String]) throws -> CommandResult {
            try UAEFProcess.run(arguments, in: directory.url)
        }

        let list = try catalogue(["templates", "list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(
            try list.json().arrayValue?.compactMap { $0["name"]?.stringValue } == [
                "account-reconciliation", "document-triage", "invoice-approval", "supplier-onboarding",
            ])
        let shown = try catalogue(["templates", "show", "invoice-approval"])
        #expect(shown.stdout.contains("approval_threshold      number at least 0; default 1000"))
        let shownJSON = try catalogue(["templates", "show", "invoice-approval", "--json"]).json()
        #expect(shownJSON["parameters"]?.arrayValue?.first?["name"] == "extract_capability")
        #expect(shownJSON["source"]?.stringValue?.hasPrefix("# Built-in workflow template") == true)

        let printed = try uaef([
            "templates", "use", "invoice-approval", "--name", "eu-invoices", "--set", "approval_threshold=5000",
        ])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("name: \"eu-invoices\"\n"))
        #expect(printed.stdout.contains("needs_approval: \"${{ tasks.extract.output.total > 5000 }}\""))
        try "{approver_role: controller, approvers: 2}".write(
            toFile: directory.path("values.yaml"), atomically: true, encoding: .utf8)
        let written = try uaef([
            "templates", "use", "invoice-approval", "--values", "values.yaml", "--set", "approvers=3", "-o",
            "flow.yaml",
        ])
        #expect(written.status == 0 && written.stdout.isEmpty, "\(written.stderr)")
        let file = try String(contentsOfFile: directory.path("flow.yaml"), encoding: .utf8)
        #expect(file.contains("role: \"controller\"") && file.contains("approvers: 3"))
        // The file is a workflow like any other: `uaef validate` reads it (the agents are not registered).
        let validated = try uaef(["validate", "flow.yaml"])
        #expect(validated.status == 2 && validated.stderr.contains("invoice.extract"))

        let registered = try uaef(["templates", "use", "document-triage", "--register", "--json"])
        #expect(registered.status == 2, "capabilities no agent offers are refused, as for any workflow")
        let agents = """
            agents:
              - {name: classifier, kind: echo, capabilities: [document.classify], activate: true}
              - {name: router, kind: echo, capabilities: [document.route], activate: true}
            """
        try agents.write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
        #expect(try uaef(["agents", "register", "--file", "agents.yaml"]).status == 0)
        let report = try uaef([
            "templates", "use", "document-triage", "--set", "min_confidence=0.5", "--register", "--json",
        ])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try report.json()["registered"]?["version"] == 1)
        #expect(
            try uaef(["templates", "use", "document-triage", "--set", "min_confidence=0.5", "--register"]).stdout
                == "unchanged document-triage version 1 from template document-triage version 1\n")
        #expect(try uaef(["workflows", "show", "document-triage"]).stdout.contains("#   min_confidence: 0.5"))
        // --set reads a value as its parameter takes it: a text parameter keeps "true" as text.
        let typed = try uaef(["templates", "use", "document-triage", "--set", "reviewer_role=true", "--json"])
        #expect(try typed.json()["parameters"]?["reviewer_role"] == "true", "\(typed.stderr)")
        // A name another workflow has is refused unless --replace.
        try "name: triage\ntasks:\n  - {id: a, agent: noop}\n".write(
            toFile: directory.path("mine.yaml"), atomically: true, encoding: .utf8)
        #expect(try uaef(["workflows", "register", "mine.yaml"]).status == 0)
        let taken = try uaef(["templates", "use", "document-triage", "--name", "triage", "--register"])
        #expect(taken.status == 2 && taken.stderr.contains("was not made from template document-triage"))
        let replaced = try uaef(["templates", "use", "document-triage", "--name", "triage", "--register", "--replace"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        let events = try uaef(["events", "--json"]).stdout.split(separator: "\n").map { try JSONValue(jsonText: $0) }
        let registration = try #require(events.first { $0["type"] == "workflow.registered" })
        #expect(registration["data"]?["template"]?["name"] == "document-triage")
        #expect(registration["data"]?["template"]?["parameters"]?["min_confidence"] == .number(Number(parsing: "0.5")!))
    }

    @Test("bad values, an unknown template and a broken template file exit 2 with what is wrong, and register nothing")
    func refusals() throws {
        let directory = try TemporaryDirectory("templates-cli-bad")
        defer { directory.remove() }
        let store = ["--store", "sqlite:" + directory.path("t.db")]
        func uaef(_ arguments: [String]) throws -> CommandResult {
            try UAEFProcess.run(arguments + store, in: directory.url)
        }

        let bad = try uaef([
            "templates", "use", "invoice-approval", "--set", "approvers=9", "--set", "colour=red", "--register",
        ])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--set: approvers: expected at most 5") || bad.stderr.contains("--set: approvers:"))
        #expect(
            bad.stderr.contains("unknown parameter 'colour'; template invoice-approval declares: extract_capability"))
        #expect(try uaef(["workflows", "list", "--json"]).json() == [])

        let unknown = try uaef(["templates", "use", "invoice-aproval"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no template named 'invoice-aproval'; templates here: account-reconciliation"))

        try """
        template: broken
        title: B
        description: D
        parameters:
          limit: {type: number, description: L.}
        workflow:
          tasks:
            - {id: a, agent: echo, with: {x: "${{ params.limt }}"}}
        """.write(toFile: directory.path("broken.yaml"), atomically: true, encoding: .utf8)
        let checked = try uaef(["templates", "check", "broken.yaml"])
        #expect(checked.status == 2)
        #expect(
            checked.stderr.contains(
                "broken.yaml:8: workflow.tasks[0].with.x: params.limt is not a parameter of this template"))
        #expect(checked.stderr.contains("broken.yaml:5: parameters.limit: declared but never read"))

        let builtInCheck = try uaef([
            "templates", "check", Fixtures.packageRoot.appendingPathComponent("templates/invoice-approval.yaml").path,
            "--json",
        ])
        #expect(builtInCheck.status == 0, "\(builtInCheck.stderr)")
        #expect(try builtInCheck.json().arrayValue?.first?["valid"] == true)
    }

    @Test(
        "the example operator template (examples/templates) is offered with --templates, checks, and books a claim it runs"
    )
    func operatorTemplateWithSettlements() throws {
        let directory = try TemporaryDirectory("templates-cli-operator")
        defer { directory.remove() }
        let examples = Fixtures.packageRoot.appendingPathComponent("examples/templates").path
        let store = ["--store", "sqlite:" + directory.path("t.db")]
        func uaef(_ arguments: [String]) throws -> CommandResult {
            try UAEFProcess.run(arguments + store, in: directory.url)
        }

        let listed = try UAEFProcess.run(["templates", "list", "--templates", examples, "--json"], in: directory.url)
        #expect(
            try listed.json().arrayValue?.compactMap { $0["name"]?.stringValue }.contains("expense-reimbursement")
                == true)
        let checked = try uaef(["templates", "check", examples + "/expense-reimbursement.yaml"])
        #expect(checked.status == 0, "\(checked.stderr)")

        try
            "agents:\n  - {name: policy, kind: echo, capabilities: [expense.policy], activate: true, config: {compliant: true}}\n"
            .write(toFile: directory.path("agents.yaml"), atomically: true, encoding: .utf8)
        #expect(try uaef(["agents", "register", "--file", "agents.yaml"]).status == 0)
        let made = try uaef([
            "templates", "use", "expense-reimbursement", "--templates", examples, "--set", "currency=USD", "-o",
            "flow.yaml",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let run = try uaef(["run", "flow.yaml", "--input", "amount=120", "--input", "employee=ana", "--json"])
        #expect(try run.json()["status"] == "succeeded", "\(run.stderr)")
        let accounts = try uaef(["accounts", "--json"]).json()["accounts"]?.arrayValue ?? []
        let payable = accounts.first { $0["id"] == "payable:employees" }
        #expect(payable?["posted"] == "120.00" && payable?["currency"] == "USD", "\(accounts)")
    }
}
