import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFServer
import UAEFStore

/// `uaef bench slack`: approvals decided from Slack. 2N runs wait at an approval task whose
/// request a `slack` connector's subscription posted to the fake Slack in this process. N of
/// them are approved by pressing the message's Approve button, `concurrency` at a time, as Slack
/// posts a press (a signed form) to `uaef serve`'s `POST /v1/slack/{tenant}/{connector}` in this
/// process: the time from the press to the answer, which comes once the decision is recorded and
/// the message updated in Slack. The other N are decided by the engine directly, as many at a
/// time: the decision's own cost, the reference in the same invocation.
enum SlackBench {
    /// The goal: every press answered within a second, a third of the three seconds Slack waits.
    static let goalSeconds = 1.0
    static let signingSecret = "bench-signing-secret"

    static func run(approvals: Int, concurrency: Int, json: Bool) async throws {
        let store = try BenchSecretStore()
        defer { store.remove() }
        let engine = try await store.options.engine()
        _ = try await engine.setSecret("slack-bot", value: "xoxb-bench", actor: "bench")
        _ = try await engine.setSecret("slack-signing", value: signingSecret, actor: "bench")
        _ = try await engine.register(
            "name: payout\ntasks:\n  - {id: sign_off, agent: approval, with: {role: finance}, timeout: 30m}\n",
            origin: "bench", actor: "bench")
        let slack = FakeSlackServer(token: "xoxb-bench")
        var presses: [Double] = []
        var decisions: [Double] = []
        var elapsed = (presses: 0.0, decisions: 0.0)
        try await slack.serving { port in
            _ = try await ConnectorRegistry(store: engine.store, tenant: engine.tenant).apply(
                """
                connectors:
                  - name: bench-slack
                    type: slack
                    token: {$secret: slack-bot}
                    signing_secret: {$secret: slack-signing}
                    channel: C0FAKE0001
                    api_url: http://127.0.0.1:\(port)/api
                    approvers: {U0BENCH001: {subject: bench-approver, approves_as: [finance]}}
                    subscription: {events: [approval.requested]}
                """, file: "bench", actor: "bench")
            try await BenchServer.serving(
                engine, connectorAccess: ConnectorAccess(policy: .unrestricted, slackApprovals: true)
            ) { base in
                try await start(runs: 2 * approvals, at: base, concurrency: concurrency)
                let deadline = ContinuousClock.now + .seconds(300)
                while slack.messages.count < 2 * approvals {
                    guard ContinuousClock.now < deadline else {
                        throw CLIError.operational(
                            "only \(slack.messages.count) of \(2 * approvals) approval requests reached Slack in 300 s")
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let messages = slack.messages
                let pressed = Array(messages.prefix(approvals))
                let decided = messages.dropFirst(approvals).compactMap(approvalID)
                let start = ContinuousClock.now
                presses = try await timed(pressed, concurrency: concurrency) { message in
                    try await press(message, at: base)
                }
                elapsed.presses = LedgerBench.seconds(ContinuousClock.now - start)
                let second = ContinuousClock.now
                decisions = try await timed(decided, concurrency: concurrency) { id in
                    _ = try await engine.decide(
                        task: id, .approve, principal: "api:bench-approver", role: "finance", reason: nil)
                }
                elapsed.decisions = LedgerBench.seconds(ContinuousClock.now - second)
            }
        }
        let approved = try await engine.store.taskApprovals(tenant: engine.tenant, status: .approved).count
        guard approved == 2 * approvals else {
            throw CLIError.operational("\(approved) of \(2 * approvals) approvals were approved")
        }
        let updated = slack.messages.prefix(approvals).filter { message in
            message["blocks"]?.arrayValue?.contains { $0["type"] == "actions" } == false
        }.count
        guard updated == approvals else {
            throw CLIError.operational("\(updated) of \(approvals) pressed messages were updated in Slack")
        }
        let reference = try BenchReference.measure()
        report(
            approvals: approvals, concurrency: concurrency, presses: presses.sorted(),
            decisions: decisions.sorted(), elapsed: elapsed, reference: reference, json: json)
    }

    /// Starts `runs` runs of `payout` over the API, `concurrency` at a time.
    static func start(runs: Int, at base: String, concurrency: Int) async throws {
        _ = try await timed(Array(0..<runs), concurrency: concurrency) { _ in
            var request = HTTPClientRequest(url: base + "/v1/runs")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"workflow": "payout"}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            guard (200..<300).contains(response.status.code) else {
                throw CLIError.operational("POST /v1/runs answered \(response.status.code)")
            }
        }
    }

    /// Presses Approve in `message` as Slack would post it; fails unless the answer is 200.
    static func press(_ message: JSONValue, at base: String) async throws {
        let (body, headers) = FakeSlackServer.interaction(
            pressing: SlackMessage.approveAction, in: message, user: "U0BENCH001", signingSecret: signingSecret)
        var request = HTTPClientRequest(url: base + "/v1/slack/default/bench-slack")
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200 else {
            throw CLIError.operational("POST /v1/slack answered \(response.status.code)")
        }
    }

    /// The approval id a posted request's Approve button carries.
    static func approvalID(_ message: JSONValue) -> String? {
        message["blocks"]?.arrayValue?.last?["elements"]?.arrayValue?.first?["value"]?.stringValue
    }

    /// Runs `work` on each item, `concurrency` at a time; each one's seconds.
    static func timed<Item: Sendable>(
        _ items: [Item], concurrency: Int, _ work: @escaping @Sendable (Item) async throws -> Void
    ) async throws -> [Double] {
        try await withThrowingTaskGroup(of: Double.self) { group in
            var next = items.makeIterator()
            var seconds: [Double] = []
            func add() {
                guard let item = next.next() else { return }
                group.addTask {
                    let start = ContinuousClock.now
                    try await work(item)
                    return LedgerBench.seconds(ContinuousClock.now - start)
                }
            }
            for _ in 0..<concurrency { add() }
            while let done = try await group.next() {
                seconds.append(done)
                add()
            }
            return seconds
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func report(
        approvals: Int, concurrency: Int, presses: [Double], decisions: [Double],
        elapsed: (presses: Double, decisions: Double), reference: BenchReference, json: Bool
    ) {
        let (p50, p99) = (percentile(presses, 0.5), percentile(presses, 0.99))
        let (d50, d99) = (percentile(decisions, 0.5), percentile(decisions, 0.99))
        if json {
            return Console.printJSON([
                "workload": "slack", "approvals": .number(Number(approvals)),
                "concurrency": .number(Number(concurrency)),
                "press_p50_ms": BenchReference.number(p50 * 1000, digits: 2),
                "press_p99_ms": BenchReference.number(p99 * 1000, digits: 2),
                "presses_per_second": .number(Number(Int(Double(approvals) / max(elapsed.presses, 0.000_001)))),
                "decision_p50_ms": BenchReference.number(d50 * 1000, digits: 2),
                "decision_p99_ms": BenchReference.number(d99 * 1000, digits: 2),
                "decisions_per_second": .number(
                    Number(Int(Double(approvals) / max(elapsed.decisions, 0.000_001)))),
                "press_to_decision_p50": BenchReference.number(p50 / max(d50, 0.000_001), digits: 2),
                "goal_p99_seconds": BenchReference.number(goalSeconds, digits: 1),
                "reference": reference.json,
            ])
        }
        func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
        print(
            """
            slack: \(approvals) approvals pressed in the fake Slack, \(concurrency) at a time, answered by POST /v1/slack \
            (signature, decision recorded, message updated): p50 \(ms(p50)), p99 \(ms(p99)), \
            \(Int(Double(approvals) / max(elapsed.presses, 0.000_001)))/s (goal: p99 under \(String(format: "%.0f", goalSeconds)) s; Slack waits 3 s)
            beside \(approvals) decisions by the engine directly, as many at a time: p50 \(ms(d50)), p99 \(ms(d99)), \
            \(Int(Double(approvals) / max(elapsed.decisions, 0.000_001)))/s; a press is \(String(format: "%.1f", p50 / max(d50, 0.000_001))) decisions at the median
            \(reference.text)
            """)
    }
}
