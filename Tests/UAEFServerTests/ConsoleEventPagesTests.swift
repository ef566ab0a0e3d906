import Foundation
import NIOHTTP1
import Testing
import UAEFConsole
import UAEFCore
import UAEFStore

/// A run's and a task's console pages list their events a page at a time (`?events_from=`), over
/// real HTTP on loopback: before, they showed the first page only and named the CLI for the rest.
@Suite("Console: the pages of a run's and a task's events")
struct ConsoleEventPagesTests {
    /// Without token authentication (loopback) any session is the local administrator's.
    static let session = [("Cookie", "uaef_session=local.test")]

    /// The events' seqs a page lists, in order, from its events table's ledger links.
    static func seqs(_ html: String) -> [Int] {
        html.components(separatedBy: "aria-label=\"event ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }

    /// The href of the link whose text is `text`, with `&amp;` read back.
    static func link(_ text: String, in html: String) -> String? {
        guard let end = html.range(of: "\">\(text)</a>") else { return nil }
        guard let start = html[..<end.lowerBound].range(of: "href=\"", options: .backwards) else { return nil }
        return String(html[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&amp;", with: "&")
    }

    @Test("a run's events page by page: every event once, in order, with links forward and back to the first page")
    func runEventPages() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            let workflow = """
                name: many
                inputs: {items: []}
                tasks:
                  - id: each
                    agent: echo
                    for_each: ${{ inputs.items }}
                    with: {message: "${{ item }}"}
                """
            #expect(try await server.send(.POST, "/v1/workflows", body: workflow).status == 201)
            let items = JSONValue.array((1...150).map { .number(Number($0)) }).jsonText
            let started = try await server.send(
                .POST, "/v1/runs", body: #"{"workflow": "many", "inputs": {"items": \#(items)}}"#)
            let run = try #require(started["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let all = try await server.store.runEvents(of: RunID(run), tenant: "default", from: 0, limit: 10_000)
            #expect(all.count > 2 * RunView.eventLimit, "the run has more than two pages of events")

            var seen: [Int] = []
            var path: String? = "/runs/\(run)"
            var pages = 0
            while let next = path {
                let page = try await server.send(.GET, next, headers: Self.session)
                #expect(page.status == 200)
                let seqs = Self.seqs(page.body)
                #expect(seqs.count <= RunView.eventLimit && !seqs.isEmpty)
                #expect((Self.link("First events", in: page.body) != nil) == (pages > 0), "\(next)")
                seen += seqs
                pages += 1
                path = Self.link("Later events", in: page.body).map { $0.components(separatedBy: "#").first ?? $0 }
            }
            #expect(seen == all.map { Int($0.seq) })
            #expect(pages == (all.count + RunView.eventLimit - 1) / RunView.eventLimit)

            let past = try await server.send(.GET, "/runs/\(run)?events_from=\(Int64.max)", headers: Self.session)
            #expect(past.status == 200 && Self.seqs(past.body).isEmpty)
            #expect(past.body.contains("No events with seq \(Int64.max) or later."))
            for bad in ["-1", "x", "99999999999999999999"] {
                let refused = try await server.send(.GET, "/runs/\(run)?events_from=\(bad)", headers: Self.session)
                #expect(refused.status == 400, "\(bad)")
                #expect(refused.body.contains("events_from"), "\(bad)")
            }
        }
    }

    @Test("a task's later page keeps its attempts' inputs, read from the first page of its events")
    func taskEventPages() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            #expect(try await server.send(.POST, "/v1/workflows", body: ServerHarness.helloWorkflow).status == 201)
            let started = try await server.send(.POST, "/v1/runs", body: #"{"workflow": "hello"}"#)
            let run = try #require(started["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let events = try await server.store.taskEvents(
                of: RunID(run), key: "greet", tenant: "default", from: 0, limit: 100)
            let last = try #require(events.last?.seq)

            let first = try await server.send(.GET, "/runs/\(run)/tasks/greet", headers: Self.session)
            #expect(Self.seqs(first.body) == events.map { Int($0.seq) })
            #expect(
                Self.link("Later events", in: first.body) == nil && Self.link("First events", in: first.body) == nil)
            let later = try await server.send(
                .GET, "/runs/\(run)/tasks/greet?events_from=\(last)", headers: Self.session)
            #expect(Self.seqs(later.body) == [Int(last)])
            #expect(Self.link("First events", in: later.body) == "/runs/\(run)/tasks/greet#events")
            #expect(later.body.contains("hello world"), "the attempt's input, from the first page's task.started")
        }
    }
}
