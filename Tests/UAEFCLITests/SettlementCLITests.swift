import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef rules and uaef settle (real processes)")
struct SettlementCLITests {
    static let example = Fixtures.packageRoot.appendingPathComponent("examples/invoice-settlement.yaml").path
    static let event = Fixtures.packageRoot.appendingPathComponent("examples/settlement-event.json").path

    @Test("rules validate accepts the example and names every problem of a bad file with exit 2")
    func validate() throws {
        let directory = try TemporaryDirectory("rules")
        defer { directory.remove() }
        let good = try UAEFProcess.run(["rules", "validate", Self.example, "--json"], in: directory.url)
        #expect(good.status == 0)
        #expect(try good.json()["rules"] == ["pay-extraction", "platform-fee", "book-vendor-invoice"])
        let bad = directory.path("bad.yaml")
        try """
        accounts: [{id: a, type: asset, currency: EUR}]
        rules:
          - {id: r, on: run.succeeded, amount: {fixed: 1}, currency: EUR, from: a, to: b, rounding: nearest}
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try UAEFProcess.run(["rules", "validate", bad], in: directory.url)
        #expect(result.status == 2)
        #expect(result.stderr.contains(#"bad.yaml:3: rules[0].rounding: "nearest" is not a rounding mode"#))
        let json = try UAEFProcess.run(["rules", "validate", bad, "--json"], in: directory.url)
        #expect(json.status == 2)
        #expect(try json.json()["valid"] == false)
    }

    @Test("settle simulate shows each rule's amount, rounding, postings and approval, and stores nothing")
    func simulate() throws {
        let directory = try TemporaryDirectory("simulate")
        defer { directory.remove() }
        let result = try UAEFProcess.run(
            ["settle", "simulate", "--rules", Self.example, "--event", Self.event, "--json"], in: directory.url)
        #expect(result.status == 0, "\(result.stderr)")
        let rules = try #require(try result.json().arrayValue)
        #expect(rules[0] == ["rule": "pay-extraction", "matched": false])
        #expect(rules[1]["amount"] == "31.25" && rules[1]["exact"] == "31.2475")
        #expect(rules[1]["rounding"] == ["mode": "half_up", "adjustment": "0.0025"])
        #expect(rules[2]["needs_approval"] == true && rules[2]["amount"] == "1249.90")
        #expect(
            rules[2]["postings"] == [["debit": "expense:purchases", "credit": "payable:vendors", "amount": "1249.90"]])
        let missing = try UAEFProcess.run(
            ["settle", "simulate", "--rules", Self.example, "--event", directory.path("none.json")], in: directory.url)
        #expect(missing.status == 2 && missing.stderr.contains("cannot read"))
        // No store was opened or created (the folder holds only the captured output).
        #expect(
            try !FileManager.default.contentsOfDirectory(atPath: directory.url.path).contains { $0.hasSuffix(".db") })
    }

    @Test("signals settle once per idempotency key; approvals refuse the maker and post after two approvers")
    func signalsAndApprovals() throws {
        let directory = try TemporaryDirectory("signals")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let rules = directory.path("rules.yaml")
        try """
        accounts:
          - {id: ops, type: expense, currency: JPY}
          - {id: llm, type: liability, currency: JPY}
        rules:
          - id: tokens
            on: signal.tokens
            amount: {per_unit: {rate: "0.015", quantity: "${{ event.data.tokens }}"}}
            currency: JPY
            rounding: ceiling
            from: ops
            to: llm
            approval: {above: "1000", approvers: 2, role: finance}
        """.write(toFile: rules, atomically: true, encoding: .utf8)
        #expect(try UAEFProcess.run(["rules", "load", rules, "--store", store], in: directory.url).status == 0)
        let send = [
            "signal", "tokens", "--data", #"{"tokens": 12345}"#, "--idempotency-key", "k1", "--json", "--store", store,
        ]
        let first = try UAEFProcess.run(send, in: directory.url)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try first.json()["replayed"] == false)
        #expect(try first.json()["settlements"]?.arrayValue?.first?["amount"] == "186")  // 185.175 rounded up
        let again = try UAEFProcess.run(send, in: directory.url)
        #expect(try again.json()["replayed"] == true)
        #expect(try again.json()["event_seq"] == first.json()["event_seq"])
        let conflict = try UAEFProcess.run(
            ["signal", "tokens", "--data", #"{"tokens": 1}"#, "--idempotency-key", "k1", "--store", store],
            in: directory.url)
        #expect(conflict.status == 2 && conflict.stderr.contains("idempotency key k1 was first used"))

        let big = try UAEFProcess.run(
            [
                "signal", "tokens", "--data", #"{"tokens": 100000}"#, "--idempotency-key", "k2", "--json", "--store",
                store,
            ],
            in: directory.url)
        let id = try #require(try big.json()["settlements"]?.arrayValue?.first?["id"]?.stringValue)
        #expect(try big.json()["settlements"]?.arrayValue?.first?["status"] == "pending_approval")
        let maker = try big.json()["settlements"]?.arrayValue?.first?["maker"]?.stringValue ?? ""
        let byMaker = try UAEFProcess.run(
            ["approvals", "approve", id, "--as", maker, "--role", "finance", "--store", store], in: directory.url)
        #expect(byMaker.status == 2 && byMaker.stderr.contains("maker-checker"), "\(byMaker.stderr)")
        for approver in ["alice", "bob"] {
            let result = try UAEFProcess.run(
                ["approvals", "approve", id, "--as", approver, "--role", "finance", "--json", "--store", store],
                in: directory.url)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let shown = try UAEFProcess.run(["settlements", "show", id, "--json", "--store", store], in: directory.url)
            .json()
        #expect(shown["status"] == "posted")
        #expect(shown["approvals"]?.arrayValue?.map { $0["principal"] } == ["alice", "bob"])
        let balances = try UAEFProcess.run(["accounts", "--json", "--store", store], in: directory.url).json()
        #expect(balances["accounts"]?.arrayValue?.first { $0["id"] == "llm" }?["posted"] == "1686")
        #expect(try UAEFProcess.run(["ledger", "verify", "--store", store], in: directory.url).status == 0)
    }

    @Test("a workflow's settlements section is validated with it and settles its runs, without a rules file")
    func workflowSection() throws {
        let directory = try TemporaryDirectory("section")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = directory.path("w.yaml")
        let text = """
            name: pages
            inputs: {pages: 12}
            tasks:
              - {id: ocr, agent: echo, with: {pages: "${{ inputs.pages }}"}}
            settlements:
              accounts:
                - {id: "expense:ocr", type: expense, currency: USD}
                - {id: "agent:ocr", type: liability, currency: USD}
              rules:
                - id: per-page
                  on: task.succeeded
                  match: {task: ocr}
                  amount: {per_unit: {rate: "0.05", quantity: "${{ output.pages }}"}}
                  currency: USD
                  from: "expense:ocr"
                  to: "agent:ocr"
            """
        try text.write(toFile: workflow, atomically: true, encoding: .utf8)
        let run = try UAEFProcess.run(["run", workflow, "--store", store], in: directory.url)
        #expect(run.status == 0, "\(run.stderr)")
        let settlements = try UAEFProcess.run(["settlements", "list", "--json", "--store", store], in: directory.url)
        #expect(try settlements.json().arrayValue?.map { $0["rule"] } == ["pages/per-page"])
        #expect(try settlements.json().arrayValue?.first?["amount"] == "0.60")
        let balances = try UAEFProcess.run(["accounts", "--json", "--store", store], in: directory.url).json()
        #expect(balances["accounts"]?.arrayValue?.count == 2 && balances["trial_balance_minor_units"] == 0)

        try text.replacingOccurrences(of: "currency: USD\n", with: "currency: US\n")
            .write(toFile: workflow, atomically: true, encoding: .utf8)
        let invalid = try UAEFProcess.run(["validate", workflow, "--store", store], in: directory.url)
        #expect(invalid.status == 2)
        #expect(
            invalid.stderr.contains(#"w.yaml:14: settlements.rules[0].currency: "US" is not an active ISO 4217"#),
            "\(invalid.stderr)")
    }

    @Test("an approval task waits for two approvers (the run's starter refused) and a rejection fails the task")
    func approvalTask() throws {
        let directory = try TemporaryDirectory("approval-task")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = directory.path("payout.yaml")
        try """
        name: payout
        tasks:
          - {id: prepare, agent: echo, with: {total: 5000}}
          - id: sign_off
            agent: approval
            depends_on: [prepare]
            with: {role: finance, approvers: 2, message: "Pay ${{ tasks.prepare.output.total }}?"}
            timeout: 1m
          - {id: pay, agent: echo, depends_on: [sign_off], with: {paid: true}}
        """.write(toFile: workflow, atomically: true, encoding: .utf8)

        /// Starts the run and returns it with the id of the approval it waits for.
        func startAndWait() throws -> (ChildProcess, String) {
            let (process, stdout, stderr) = try UAEFProcess.start(
                ["run", workflow, "--store", store], in: directory.url)
            // Generous: on a loaded 2-core machine starting the run and listing take a while.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let list = try UAEFProcess.run(["approvals", "list", "--json", "--store", store], in: directory.url)
                if let id = (try? list.json())?.arrayValue?.first(where: { $0["status"] == "pending" })?["id"]?
                    .stringValue
                {
                    return (process, id)
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            process.terminate()
            let last = try UAEFProcess.run(["approvals", "list", "--json", "--store", store], in: directory.url)
            process.waitUntilExit()
            let output = [stdout, stderr].map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }
            throw TestPrecondition(
                "no approval appeared: list \(last.status) \(last.stdout) \(last.stderr); run \(process.terminationStatus) \(output)"
            )
        }

        let (approved, id) = try startAndWait()
        let pending = try UAEFProcess.run(["approvals", "list", "--json", "--store", store], in: directory.url).json()
        #expect(pending.arrayValue?.first?["message"] == "Pay 5000?")
        let maker = pending.arrayValue?.first?["maker"]?.stringValue ?? ""
        let byMaker = try UAEFProcess.run(
            ["approvals", "approve", id, "--as", maker, "--role", "finance", "--store", store], in: directory.url)
        #expect(byMaker.status == 2 && byMaker.stderr.contains("maker-checker"))
        for approver in ["alice", "bob"] {
            #expect(
                try UAEFProcess.run(
                    ["approvals", "approve", id, "--as", approver, "--role", "finance", "--store", store],
                    in: directory.url
                ).status == 0)
        }
        approved.waitUntilExit()
        #expect(approved.terminationStatus == 0)
        let request = try UAEFProcess.run(["approvals", "show", id, "--json", "--store", store], in: directory.url)
            .json()
        #expect(request["status"] == "approved")
        #expect(request["decisions"]?.arrayValue?.map { $0["principal"] } == ["alice", "bob"])

        let (rejected, second) = try startAndWait()
        let reject = try UAEFProcess.run(
            [
                "approvals", "reject", second, "--as", "carol", "--role", "finance", "--reason", "no PO", "--store",
                store,
            ],
            in: directory.url)
        #expect(reject.status == 0, "\(reject.stderr)")
        rejected.waitUntilExit()
        #expect(rejected.terminationStatus == 1)
        let runs = try UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url).json()
        let failed = try #require(runs.arrayValue?.first { $0["status"] == "failed" }?["run_id"]?.stringValue)
        let shown = try UAEFProcess.run(["runs", "show", failed, "--json", "--store", store], in: directory.url).json()
        #expect(shown["tasks"]?["sign_off"]?["error"]?.stringValue?.contains("rejected: no PO") == true)
        #expect(shown["tasks"]?["pay"]?["status"] == "skipped")
        #expect(try UAEFProcess.run(["ledger", "verify", "--store", store], in: directory.url).status == 0)
    }

    @Test("an approval whose task timed out is not listed, and deciding on it expires it")
    func approvalTimesOut() throws {
        let directory = try TemporaryDirectory("approval-timeout")
        defer { directory.remove() }
        let store = "sqlite:" + directory.path("s.db")
        let workflow = directory.path("w.yaml")
        try """
        name: hurry
        tasks:
          - {id: sign_off, agent: approval, with: {role: finance}, timeout: 300ms}
        """.write(toFile: workflow, atomically: true, encoding: .utf8)
        let run = try UAEFProcess.run(["run", workflow, "--store", store], in: directory.url)
        #expect(run.status == 1)
        let list = try UAEFProcess.run(["approvals", "list", "--json", "--store", store], in: directory.url).json()
        #expect(list.arrayValue?.isEmpty == true)
        let events = try UAEFProcess.run(["events", "--json", "--store", store], in: directory.url).stdout
        let requested = try #require(
            events.split(separator: "\n").map { try JSONValue(jsonText: $0) }.first {
                $0["type"] == "approval.requested"
            })
        let id = try #require(requested["data"]?["approval"]?.stringValue)
        let late = try UAEFProcess.run(
            ["approvals", "approve", id, "--as", "alice", "--role", "finance", "--store", store], in: directory.url)
        #expect(late.status == 2 && late.stderr.contains("expired"), "\(late.stderr)")
        let shown = try UAEFProcess.run(["approvals", "show", id, "--json", "--store", store], in: directory.url).json()
        #expect(shown["status"] == "expired")
    }
}

/// A test precondition that did not hold.
struct TestPrecondition: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
