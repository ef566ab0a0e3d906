import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore

/// The console's schedules page, over real HTTP on loopback.
@Suite("Console: schedules")
struct ConsoleSchedulesTests {
    /// Without token authentication (loopback) any session is the local administrator's.
    static let session = [("Cookie", "uaef_session=local.test")]

    @Test("a schedule whose next slot is held for its last run (overlap buffer_one, buffer_all) says so")
    func heldSlot() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            #expect(try await server.send(.POST, "/v1/workflows", body: ServerHarness.helloWorkflow).status == 201)
            let document = "schedules:\n  - {name: nightly, workflow: hello, every: 24h, overlap: buffer_one}\n"
            #expect(try await server.send(.POST, "/v1/schedules", body: document).status == 201)
            let note = "next slot held until its last run ends"
            #expect(try await !server.send(.GET, "/schedules", headers: Self.session).body.contains(note))
            var record = try #require(try await server.store.schedule(named: "nightly", tenant: "default"))
            record.buffered = true
            try await server.store.saveSchedules([record], events: [])
            let page = try await server.send(.GET, "/schedules", headers: Self.session)
            #expect(page.body.contains(note) && page.body.contains("overlap buffer_one"), "\(page.body)")
        }
    }

    @Test("the page lists each schedule with its times, state and next slots; pause, resume and run now work from it")
    func schedulesPage() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            #expect(try await server.send(.POST, "/v1/workflows", body: ServerHarness.helloWorkflow).status == 201)
            let document = """
                schedules:
                  - {name: greet-berlin, workflow: hello, cron: "0 9 * * MON-FRI", time_zone: Europe/Berlin}
                """
            #expect(try await server.send(.POST, "/v1/schedules", body: document).status == 201)
            let page = try await server.send(.GET, "/schedules", headers: Self.session)
            #expect(page.status == 200)
            #expect(page.body.contains("<td class=\"mono\">greet-berlin</td>"), "\(page.body)")
            #expect(page.body.contains("cron &quot;0 9 * * MON-FRI&quot; Europe/Berlin"), "\(page.body)")
            #expect(page.body.contains("href=\"/schedules\""), "the navigation links the page")
            #expect(page.body.contains(">active<"))
            // 09:00 in Berlin: 08:00Z in winter, 07:00Z in summer.
            #expect(page.body.contains("T08:00:00.000Z") || page.body.contains("T07:00:00.000Z"))
            let csrf = try #require(
                page.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" })

            // The client follows the forms' 303s, as a browser does: each answer is the page it names.
            let form = [("Content-Type", "application/x-www-form-urlencoded")] + Self.session
            let paused = try await server.send(
                .POST, "/schedules/greet-berlin/pause", body: "csrf=\(csrf)&note=holiday+freeze", headers: form)
            #expect(paused.status == 200 && paused.body.contains(">paused<"), "\(paused.status) \(paused.body)")
            #expect(paused.body.contains(">holiday freeze<"), "the pause's note is shown")
            let long = String(repeating: "é", count: 300)
            let tooLong = try await server.send(
                .POST, "/schedules/greet-berlin/pause",
                body: "csrf=\(csrf)&note=" + long.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                headers: form)
            #expect(
                tooLong.status == 422
                    && tooLong.body.contains("greet-berlin was not paused: note: expected text of at most 500 bytes"))
            #expect(try await server.store.schedule(named: "greet-berlin", tenant: "default")?.note == "holiday freeze")
            #expect(paused.body.contains(">Resume</button>") && !paused.body.contains(">Pause</button>"))
            #expect(try await server.store.schedule(named: "greet-berlin", tenant: "default")?.paused == true)
            let forged = try await server.send(
                .POST, "/schedules/greet-berlin/resume", body: "csrf=forged", headers: form)
            #expect(forged.status == 403)
            #expect(try await server.store.schedule(named: "greet-berlin", tenant: "default")?.paused == true)
            let resumed = try await server.send(
                .POST, "/schedules/greet-berlin/resume", body: "csrf=\(csrf)", headers: form)
            #expect(resumed.status == 200 && resumed.body.contains(">active<"))
            #expect(try await server.store.schedule(named: "greet-berlin", tenant: "default")?.paused == false)

            let triggered = try await server.send(
                .POST, "/schedules/greet-berlin/trigger", body: "csrf=\(csrf)", headers: form)
            #expect(triggered.status == 200)
            // The run the button started (not one a slot of the schedule might start meanwhile).
            let run = try #require(
                try await server.store.events(from: 0, limit: 1_000).last {
                    $0.event.type == "schedule.triggered"
                }?.event.data["run"]?.stringValue)
            #expect(triggered.body.contains(run), "run now lands on the run's page")
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            #expect(
                try await server.send(.POST, "/schedules/nope/pause", body: "csrf=\(csrf)", headers: form).status == 404
            )

            // Backfill: the form's UTC times, each slot's run once; a range in the future comes back refused.
            #expect(page.body.contains("action=\"/schedules/greet-berlin/backfill\""))
            let backfilled = try await server.send(
                .POST, "/schedules/greet-berlin/backfill",
                body: "csrf=\(csrf)&from=2026-11-30T00%3A00&to=2026-12-04T23%3A59",
                headers: form)
            #expect(backfilled.status == 200, "\(backfilled.body)")
            // Monday 30 November to Friday 4 December 2026: five weekday slots at 09:00 Berlin.
            #expect(backfilled.body.contains("greet-berlin: 5 slots started a run."), "\(backfilled.body)")
            let future = try await server.send(
                .POST, "/schedules/greet-berlin/backfill",
                body: "csrf=\(csrf)&from=2026-11-30T00%3A00&to=2999-01-01T00%3A00",
                headers: form)
            #expect(
                future.status == 422 && future.body.contains("was not backfilled")
                    && future.body.contains("in the future"))
            let spoofed = try await server.send(
                .GET, "/schedules?backfilled=Your%20password%20expired", headers: Self.session)
            #expect(!spoofed.body.contains("password"), "the notice is built from numbers, not from the link's text")
        }
    }
}
