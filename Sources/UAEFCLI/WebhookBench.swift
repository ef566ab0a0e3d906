import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// `uaef bench webhooks`: the webhook connector's two directions on a fresh SQLite store, each
/// beside a reference measured the same way in the same invocation.
///
/// - Outbound: `deliveries` events forwarded by a subscription through the outbox (cursor,
///   claims, signed Standard Webhooks posts, recorded outcomes) to an in-process receiver that
///   verifies every signature; references: a plain HTTP client posting as many unsigned bodies
///   of the same size to the same receiver with the same concurrency, and the same loop signing
///   each body so that the receiver verifies it as it verifies a delivery.
/// - Inbound: signed messages to `POST /v1/hooks/{tenant}/{connector}` of an in-process server
///   for `seconds`, each verified and durably starting a run; reference: `POST /v1/runs` with
///   the same load generator and connections.
enum WebhookBench {
    /// Hands out request numbers to concurrent senders.
    final class Tickets: Sendable {
        private let next = Atomic<Int>(0)
        func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
    }

    /// Counts what the receiver accepted.
    final class Counter: Sendable {
        let verified = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
    }

    static func run(deliveries: Int, seconds: Int, concurrency: Int, json: Bool) async throws {
        let secretText = WebhookSecret.generate()
        let secret = try WebhookSecret(secretText)
        let store = try BenchSecretStore()
        defer { store.remove() }
        let options = store.options
        let engine = try await options.engine()
        _ = try await engine.setSecret("bench-hook", value: secretText, actor: "bench")
        let counter = Counter()
        let (outbound, plain, signed) = try await withReceiver(secret: secret, counter: counter) { port in
            let outbound = try await deliver(
                deliveries, to: port, concurrency: concurrency, engine: engine, secrets: try options.secretBox(),
                counter: counter)
            let plain = try await plainPosts(deliveries, to: port, concurrency: concurrency, signing: nil)
            let signed = try await plainPosts(deliveries, to: port, concurrency: concurrency, signing: secret)
            return (outbound, plain, signed)
        }
        guard counter.refused.load(ordering: .relaxed) == 0 else {
            throw CLIError.operational("the receiver refused \(counter.refused.load(ordering: .relaxed)) signatures")
        }
        let (hooks, runs) = try await inbound(
            seconds: seconds, concurrency: concurrency, engine: engine, secret: secret)
        let reference = try BenchReference.measure()
        report(
            deliveries: deliveries, concurrency: concurrency, outbound: outbound, plain: plain, signed: signed,
            hooks: hooks, runs: runs,
            reference: reference, json: json)
    }

    // MARK: Outbound

    /// Runs `body` with a loopback receiver: `POST /hook` verifies the Standard Webhooks
    /// signature (204, counted), `POST /plain` only counts.
    static func withReceiver<Result: Sendable>(
        secret: WebhookSecret, counter: Counter, _ body: @Sendable (Int) async throws -> Result
    ) async throws -> Result {
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let bytes = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            do {
                try StandardWebhooks.verify(
                    id: request.headers[HTTPField.Name("webhook-id")!],
                    timestamp: request.headers[HTTPField.Name("webhook-timestamp")!],
                    signatures: request.headers[HTTPField.Name("webhook-signature")!], body: bytes, secrets: [secret],
                    now: Date())
                counter.verified.add(1, ordering: .relaxed)
                return .noContent
            } catch {
                counter.refused.add(1, ordering: .relaxed)
                return .unauthorized
            }
        }
        router.post("plain") { request, _ -> HTTPResponse.Status in
            _ = try await request.body.collect(upTo: 1 << 20)
            return .noContent
        }
        var logger = Logger(label: "uaef-bench-receiver")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                try await application.runService(gracefulShutdownSignals: [])
                return nil
            }
            guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }

    /// Forwards `count` events through a subscription; the seconds from the first claim to the
    /// last verified delivery.
    static func deliver(
        _ count: Int, to port: Int, concurrency: Int, engine: Engine, secrets: SecretBox?, counter: Counter
    ) async throws -> Double {
        _ = try await ConnectorRegistry(store: engine.store, tenant: engine.tenant).apply(
            """
            connectors:
              - name: bench-out
                type: webhook
                url: http://127.0.0.1:\(port)/hook
                secrets: [{$secret: bench-hook}]
                subscription: {events: [bench.event]}
                max_concurrency: \(concurrency)
            """, file: "bench-connectors.yaml", actor: "bench")
        var random = SystemRandomNumberGenerator()
        for start in stride(from: 0, to: count, by: 5_000) {
            var changes = ChangeSet()
            changes.events = (start..<min(start + 5_000, count)).map { index in
                let now = Date()
                return EventDraft(
                    id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "bench.event",
                    actor: "bench", tenant: engine.tenant, subject: "bench/\(index)",
                    data: ["invoice": .string("INV-\(index)"), "total": "1250.00"])
            }
            try await engine.store.commit(changes)
        }
        var logger = Logger(label: "uaef-bench")
        logger.logLevel = .critical
        let workers = ConnectorWorkers(
            store: engine.store, engine: { engine.forTenant($0) },
            dispatch: TriggerDispatch(execute: { _, _ in }, signalled: { _ in }),
            triggers: WorkflowTriggerIndex(store: engine.store), access: .local, secrets: secrets,
            lookupInterval: .milliseconds(10), commits: nil, logger: logger)
        let start = ContinuousClock.now
        let task = Task { await workers.run() }
        defer { task.cancel() }
        let deadline = start + .seconds(600)
        while counter.verified.load(ordering: .relaxed) < count {
            guard ContinuousClock.now < deadline else {
                throw CLIError.operational(
                    "only \(counter.verified.load(ordering: .relaxed)) of \(count) deliveries arrived in 10 minutes")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = LedgerBench.seconds(ContinuousClock.now - start)
        task.cancel()
        await task.value
        return elapsed
    }

    /// A reference: `count` posts of a delivery's size, `concurrency` at a time, on one keep-alive
    /// client; seconds. Unsigned to `/plain` without `signing`; with it, each signed as a delivery
    /// is and posted to `/hook`, which verifies it.
    static func plainPosts(_ count: Int, to port: Int, concurrency: Int, signing: WebhookSecret?) async throws
        -> Double
    {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
        let body = String(repeating: "x", count: 260)
        let tickets = Tickets()
        let start = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while case let index = tickets.take(), index < count {
                            var request = HTTPClientRequest(
                                url: "http://127.0.0.1:\(port)/\(signing == nil ? "plain" : "hook")")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/json")
                            if let signing {
                                let id = "msg_plain_\(index)"
                                let timestamp = Int64(Date().timeIntervalSince1970)
                                request.headers.add(name: StandardWebhooks.idHeader, value: id)
                                request.headers.add(name: StandardWebhooks.timestampHeader, value: "\(timestamp)")
                                request.headers.add(
                                    name: StandardWebhooks.signatureHeader,
                                    value: StandardWebhooks.signatureHeader(
                                        id: id, timestamp: timestamp, body: Array(body.utf8), secrets: [signing]))
                            }
                            request.body = .bytes(ByteBuffer(string: body))
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 16)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return LedgerBench.seconds(ContinuousClock.now - start)
    }

    // MARK: Inbound

    /// What a load of one kind of request came to.
    struct Load {
        var requests: Int
        var errors: Int
        var seconds: Double
        var latencies: [Double]

        var perSecond: Double { Double(requests) / seconds }
        func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
    }

    /// Signed hooks and the `POST /v1/runs` reference against one in-process server.
    static func inbound(seconds: Int, concurrency: Int, engine: Engine, secret: WebhookSecret) async throws -> (
        hooks: Load, runs: Load
    ) {
        _ = try await engine.register(
            "name: bench-intake\ninputs: {message: {}}\ntasks:\n  - id: take\n    agent: noop\n",
            origin: "bench", actor: "bench")
        _ = try await ConnectorRegistry(store: engine.store, tenant: engine.tenant).apply(
            """
            connectors:
              - name: bench-in
                type: webhook
                secrets: [{$secret: bench-hook}]
                trigger: {workflow: bench-intake}
            """, file: "bench-connectors.yaml", actor: "bench")
        return try await BenchServer.serving(engine) { base in
            let runs = try await load(seconds: seconds, concurrency: concurrency) { index in
                var request = HTTPClientRequest(url: base + "/v1/runs")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(
                    ByteBuffer(string: #"{"workflow": "bench-intake", "inputs": {"message": {"n": \#(index)}}}"#))
                return request
            }
            try await ProcessCPU.settle()
            let hooks = try await load(seconds: seconds, concurrency: concurrency) { index in
                let body = Array(
                    #"{"type": "bench", "timestamp": "2026-12-02T00:00:00Z", "data": {"n": \#(index)}}"#.utf8)
                let id = "msg_bench_\(index)_\(UInt64.random(in: 0...UInt64.max))"
                let timestamp = Int64(Date().timeIntervalSince1970)
                var request = HTTPClientRequest(url: base + "/v1/hooks/\(engine.tenant)/bench-in")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: StandardWebhooks.idHeader, value: id)
                request.headers.add(name: StandardWebhooks.timestampHeader, value: "\(timestamp)")
                request.headers.add(
                    name: StandardWebhooks.signatureHeader,
                    value: StandardWebhooks.signatureHeader(id: id, timestamp: timestamp, body: body, secrets: [secret])
                )
                request.body = .bytes(ByteBuffer(bytes: body))
                return request
            }
            return (hooks, runs)
        }
    }

    /// `concurrency` connections sending what `make` builds for `seconds`; a 2xx counts.
    static func load(seconds: Int, concurrency: Int, make: @escaping @Sendable (Int) -> HTTPClientRequest)
        async throws -> Load
    {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
        let tickets = Tickets()
        let start = ContinuousClock.now
        let end = start + .seconds(seconds)
        let results = try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var errors = 0
                    var latencies: [Double] = []
                    while ContinuousClock.now < end {
                        let index = tickets.take()
                        let sent = ContinuousClock.now
                        let response = try await client.execute(make(index), timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        latencies.append(LedgerBench.seconds(ContinuousClock.now - sent))
                        if !(200..<300).contains(response.status.code) { errors += 1 }
                    }
                    return (errors, latencies)
                }
            }
            var all: [(Int, [Double])] = []
            for try await result in group { all.append(result) }
            return all
        }
        let elapsed = LedgerBench.seconds(ContinuousClock.now - start)
        try await client.shutdown()
        let latencies = results.flatMap(\.1)
        return Load(
            requests: latencies.count, errors: results.reduce(0) { $0 + $1.0 }, seconds: elapsed, latencies: latencies)
    }

    // MARK: Report

    static func report(
        deliveries: Int, concurrency: Int, outbound: Double, plain: Double, signed: Double, hooks: Load, runs: Load,
        reference: BenchReference, json: Bool
    ) {
        let outRate = Double(deliveries) / outbound
        let plainRate = Double(deliveries) / plain
        let signedRate = Double(deliveries) / signed
        func milliseconds(_ value: Double) -> JSONValue { BenchReference.number(value * 1000, digits: 1) }
        if json {
            Console.printJSON([
                "workload": "webhooks", "concurrency": .number(Number(concurrency)),
                "outbound": [
                    "deliveries": .number(Number(deliveries)), "seconds": BenchReference.number(outbound, digits: 3),
                    "deliveries_per_second": .number(Number(Int(outRate))),
                    "plain_posts_per_second": .number(Number(Int(plainRate))),
                    "ratio_to_plain": BenchReference.number(outRate / plainRate, digits: 3),
                    "signed_posts_per_second": .number(Number(Int(signedRate))),
                    "ratio_to_signed": BenchReference.number(outRate / signedRate, digits: 3),
                ],
                "inbound": [
                    "requests": .number(Number(hooks.requests)), "errors": .number(Number(hooks.errors)),
                    "requests_per_second": .number(Number(Int(hooks.perSecond))),
                    "p50_ms": milliseconds(hooks.percentile(0.5)), "p99_ms": milliseconds(hooks.percentile(0.99)),
                    "post_runs_per_second": .number(Number(Int(runs.perSecond))),
                    "post_runs_p99_ms": milliseconds(runs.percentile(0.99)),
                    "post_runs_errors": .number(Number(runs.errors)),
                    "ratio_to_post_runs": BenchReference.number(hooks.perSecond / runs.perSecond, digits: 3),
                ],
                "reference": reference.json,
            ])
            return
        }
        print(
            "outbound: \(deliveries) signed deliveries from the outbox in \(String(format: "%.3f", outbound)) s = \(Int(outRate))/s (goal ≥ 5000/s); a plain client loop to the same receiver: \(Int(plainRate))/s unsigned (ratio \(String(format: "%.3f", outRate / plainRate))), \(Int(signedRate))/s signed and verified (ratio \(String(format: "%.3f", outRate / signedRate)))"
        )
        print(
            "inbound: \(hooks.requests) verified webhooks in \(String(format: "%.1f", hooks.seconds)) s = \(Int(hooks.perSecond))/s, p50 \(String(format: "%.1f", hooks.percentile(0.5) * 1000)) ms, p99 \(String(format: "%.1f", hooks.percentile(0.99) * 1000)) ms, \(hooks.errors) errors (goal ≥ 2000/s, p99 < 50 ms); POST /v1/runs the same way: \(Int(runs.perSecond))/s, p99 \(String(format: "%.1f", runs.percentile(0.99) * 1000)) ms; ratio \(String(format: "%.3f", hooks.perSecond / runs.perSecond))"
        )
        print("\(concurrency) connections; \(reference.text)")
    }
}
