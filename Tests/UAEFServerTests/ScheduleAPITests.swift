import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFStore
import UAEFTestSupport

@Suite("HTTP API: schedules")
struct ScheduleAPITests {
    static let document = """
        schedules:
          - name: greet-hourly
            workflow: hello
            every: 1h
            inputs: {who: schedules}
          - name: greet-berlin
            workflow: hello
            cron: "0 9 * * MON-FRI"
            time_zone: Europe/Berlin
        """

    @Test(
        "operators save, pause, resume, trigger and remove schedules; readers read them; others are refused; problems are 422; tenants never meet"
    )
    func schedules() async throws {
        try await ServerHarness.start().serving { server in
            let operatorToken = try await server.token("acme", [.operator])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: operatorToken, body: ServerHarness.helloWorkflow)
                    .status == 201)
            let savedAt = Date()
            let saved = try await server.send(.POST, "/v1/schedules", token: operatorToken, body: Self.document)
            #expect(saved.status == 201, "\(saved.body)")
            #expect(
                saved["saved"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["greet-hourly", "greet-berlin"])
            let again = try await server.send(.POST, "/v1/schedules", token: operatorToken, body: Self.document)
            #expect(again["unchanged"] == ["greet-hourly", "greet-berlin"] && again["saved"] == [])

            for role in [Role.viewer, .approver, .auditor] {
                let token = try await server.token("acme", [role])
                #expect(try await server.send(.POST, "/v1/schedules", token: token, body: Self.document).status == 403)
                #expect(try await server.send(.POST, "/v1/schedules/greet-hourly/trigger", token: token).status == 403)
            }
            let viewer = try await server.token("acme", [.viewer])
            let listed = try await server.send(.GET, "/v1/schedules", token: viewer)
            #expect(
                listed["schedules"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                    "greet-berlin", "greet-hourly",
                ])
            let shown = try await server.send(.GET, "/v1/schedules/greet-berlin?upcoming=3", token: viewer)
            #expect(shown["time_zone"] == "Europe/Berlin" && shown["overlap"] == "skip")
            let upcoming = try #require(shown["upcoming"]?.arrayValue?.compactMap { $0.stringValue })
            #expect(upcoming.count == 3)
            // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer.
            #expect(upcoming.allSatisfy { $0.hasSuffix("T08:00:00.000Z") || $0.hasSuffix("T07:00:00.000Z") })
            #expect(try await server.send(.GET, "/v1/schedules/greet-berlin?upcoming=101", token: viewer).status == 400)

            let paused = try await server.send(
                .POST, "/v1/schedules/greet-hourly/pause", token: operatorToken, body: #"{"note": "month end"}"#)
            #expect(paused.status == 200, "\(paused.body)")
            #expect(paused["paused"] == true && paused["note"] == "month end" && paused["next_at"] == .null)
            #expect(
                try await server.send(
                    .POST, "/v1/schedules/greet-hourly/pause", token: operatorToken, body: #"{"reason": "x"}"#
                ).status == 422)
            let resumed = try await server.send(.POST, "/v1/schedules/greet-hourly/resume", token: operatorToken)
            #expect(resumed["paused"] == false && resumed["upcoming"]?.arrayValue?.count == 5)

            let triggered = try await server.send(.POST, "/v1/schedules/greet-hourly/trigger", token: operatorToken)
            #expect(triggered.status == 201, "\(triggered.body)")
            let run = try #require(triggered["run_id"]?.stringValue)
            #expect(triggered.headers["Location"] == ["/v1/runs/\(run)"])
            let ended = try await server.waitForRun(run, token: operatorToken)
            #expect(ended["status"] == "succeeded")
            #expect(ended["tasks"]?["greet"]?["output"]?["message"] == "hello schedules")

            // A backfill of the three hours' slots before the schedules were saved (none of them
            // fired, whatever the clock does during the test): three runs, then none again.
            let end = savedAt
            let range =
                #"{"from": "\#(Timestamp.format(end.addingTimeInterval(-3 * 3_600 + 1)))", "to": "\#(Timestamp.format(end))"}"#
            let backfilled = try await server.send(
                .POST, "/v1/schedules/greet-hourly/backfill", token: operatorToken, body: range)
            #expect(backfilled.status == 201, "\(backfilled.body)")
            #expect(backfilled["slots"]?.arrayValue?.count == 3 && backfilled["created"] == 3)
            // Left unleased, they are claimed and executed by the server's runners.
            let backfilledRun = try #require(backfilled["slots"]?.arrayValue?.first?["run_id"]?.stringValue)
            #expect(try await server.waitForRun(backfilledRun, token: operatorToken)["status"] == "succeeded")
            let repeated = try await server.send(
                .POST, "/v1/schedules/greet-hourly/backfill", token: operatorToken, body: range)
            #expect(repeated.status == 200 && repeated["created"] == 0)
            let viewerBackfill = try await server.send(
                .POST, "/v1/schedules/greet-hourly/backfill", token: viewer, body: range)
            #expect(viewerBackfill.status == 403)
            let future = try await server.send(
                .POST, "/v1/schedules/greet-hourly/backfill", token: operatorToken,
                body: #"{"from": "2020-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}"#)
            #expect(future.status == 422 && future["detail"]?.stringValue?.contains("in the future") == true)
            #expect(
                try await server.send(
                    .POST, "/v1/schedules/greet-hourly/backfill", token: operatorToken, body: #"{"from": "yesterday"}"#
                ).status == 422)

            let invalid = try await server.send(
                .POST, "/v1/schedules", token: operatorToken,
                body: "schedules:\n  - {name: bad, workflow: hello, cron: \"0 25 * * *\"}\n")
            #expect(invalid.status == 422)
            #expect(invalid.body.contains("hour field \\\"25\\\""), "\(invalid.body)")

            let globex = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/schedules/greet-hourly", token: globex).status == 404)
            #expect(try await server.send(.POST, "/v1/schedules/greet-hourly/trigger", token: globex).status == 404)
            #expect(try await server.send(.POST, "/v1/schedules/greet-hourly/pause", token: globex).status == 404)
            #expect(try await server.send(.DELETE, "/v1/schedules/greet-hourly", token: globex).status == 404)
            #expect(try await server.send(.DELETE, "/v1/schedules/greet-hourly", token: operatorToken).status == 204)
            #expect(try await server.send(.GET, "/v1/schedules/greet-hourly", token: operatorToken).status == 404)
        }
    }

    @Test(
        "a slot's run is started on behalf of whoever saved the schedule: maker-checker refuses them its settlement's approval, another approver gives it"
    )
    func makerChecker() async throws {
        try await ServerHarness.start().serving { server in
            // ops may start runs, save schedules and approve for finance, as an admin may.
            let ops = try await server.authority!.issue(
                for: Principal(subject: "ops", tenant: "acme", roles: [.admin], approvalRoles: ["finance"]),
                lifetime: .seconds(600))
            #expect(
                try await server.send(.POST, "/v1/workflows", token: ops, body: ServerHarness.helloWorkflow).status
                    == 201)
            let rules = """
                accounts:
                  - {id: "expense:hello", type: expense, currency: EUR}
                  - {id: "payable:hello", type: liability, currency: EUR}
                rules:
                  - id: hello-fee
                    on: run.succeeded
                    match: {workflow: hello}
                    amount: {fixed: "1500.00"}
                    currency: EUR
                    from: "expense:hello"
                    to: "payable:hello"
                    approval: {above: "1000.00", approvers: 1, role: finance}
                """
            #expect(try await server.send(.POST, "/v1/rules", token: ops, body: rules).status == 201)
            let document = "schedules:\n  - {name: leap-hello, workflow: hello, cron: \"0 0 29 2 *\"}\n"
            #expect(try await server.send(.POST, "/v1/schedules", token: ops, body: document).status == 201)
            // Its slot made due now.
            var record = try #require(try await server.store.schedule(named: "leap-hello", tenant: "acme"))
            record.nextAt = Timestamp.date(milliseconds: Timestamp.milliseconds(Date()))
            try await server.store.saveSchedules([record], events: [])
            var settlement: String?
            let deadline = ContinuousClock.now + .seconds(60)
            while settlement == nil, ContinuousClock.now < deadline {
                let waiting = try await server.send(.GET, "/v1/approvals", token: ops)
                settlement = waiting["approvals"]?.arrayValue?.first?["id"]?.stringValue
                if settlement == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let id = try #require(settlement, "the scheduled run's settlement did not wait for approval within 60 s")
            let run = try #require(try await server.store.schedule(named: "leap-hello", tenant: "acme")?.lastRun)
            #expect(try await server.store.run(run, tenant: "acme")?.createdBy == "api:ops")
            let refused = try await server.send(.POST, "/v1/approvals/\(id)/approve", token: ops)
            #expect(refused.status == 409, "\(refused.body)")
            #expect(refused["detail"]?.stringValue?.contains("maker") == true, "\(refused.body)")
            let bob = try await server.authority!.issue(
                for: Principal(subject: "bob", tenant: "acme", roles: [.approver], approvalRoles: ["finance"]),
                lifetime: .seconds(600))
            let approved = try await server.send(.POST, "/v1/approvals/\(id)/approve", token: bob)
            #expect(approved.status == 200, "\(approved.body)")
        }
    }

    @Test("the server fires a due slot, not before it, and executes its run")
    func serverFiresDueSlot() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("default", [.admin])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: admin, body: ServerHarness.helloWorkflow).status
                    == 201)
            // One slot in four years (a leap day's midnight), so no other slot falls in the test.
            let document = "schedules:\n  - {name: leap-greet, workflow: hello, cron: \"0 0 29 2 *\"}\n"
            #expect(try await server.send(.POST, "/v1/schedules", token: admin, body: document).status == 201)
            // Its next slot moved to now, as if the years had passed.
            var record = try #require(try await server.store.schedule(named: "leap-greet", tenant: "default"))
            let slot = Timestamp.date(milliseconds: Timestamp.milliseconds(Date()))
            record.nextAt = slot
            try await server.store.saveSchedules([record], events: [])
            let deadline = ContinuousClock.now + .seconds(60)
            var fired: ScheduleRecord?
            while ContinuousClock.now < deadline {
                let current = try await server.store.schedule(named: "leap-greet", tenant: "default")
                if current?.lastRun != nil {
                    fired = current
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let run = try #require(fired?.lastRun, "the slot did not fire within 60 s")
            #expect(fired?.lastSlot == slot)
            // The next is the next leap day's midnight.
            let next = try #require(fired?.nextAt)
            #expect(Timestamp.format(next).hasSuffix("-02-29T00:00:00.000Z") && next > slot, "\(next)")
            let ended = try await server.waitForRun(run.rawValue, token: admin)
            #expect(ended["status"] == "succeeded")
            let runRecord = try #require(try await server.store.run(run, tenant: "default"))
            // Never early; how soon after is uaef bench schedules' to measure (a loaded test machine
            // takes seconds).
            #expect(runRecord.createdAt >= slot, "fired \(runRecord.createdAt) for \(slot)")
        }
    }
}
