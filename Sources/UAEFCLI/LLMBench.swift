import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFLLM
import UAEFStore

/// `uaef bench llm`: single-turn `llm` tasks against the fake provider in this process, which
/// answers after a fixed latency; UAEF's own time per call is an attempt's duration less that
/// latency. Beside it, the same calls from a plain client loop (the model client alone, no
/// store) to the same fake, in the same invocation.
enum LLMBench {
    /// What the fake waits before each answer unless told otherwise.
    static let defaultLatency = Duration.milliseconds(50)

    static func run(calls: Int, concurrency: Int, latency: Duration, json: Bool) async throws {
        let server = FakeModelServer(script: FakeModelScript(latency: latency))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let serving = Task { try await server.run(port: 0) { continuation.yield($0) } }
        defer { serving.cancel() }
        guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let tasks = try await measureTasks(calls: calls, concurrency: concurrency, latency: latency, base: base)
        try await ProcessCPU.settle()
        let plain = try await measurePlainClient(calls: calls, concurrency: concurrency, latency: latency, base: base)
        try await ProcessCPU.settle()
        let http = try await measurePlainHTTP(calls: calls, concurrency: concurrency, latency: latency, base: base)
        let reference = try BenchReference.measure()
        report(
            calls: calls, concurrency: concurrency, latency: latency, tasks: tasks, plainClient: plain,
            plainHTTP: http,
            reference: reference, json: json)
    }

    struct Figures {
        var seconds: Double
        /// This process's CPU time per call (the fake's share included), in seconds.
        var cpuPerCall: Double
        /// Per call, the time beyond the fake's latency, sorted, in seconds.
        var overheads: [Double]

        /// The mean: attempts' times are stored in milliseconds, and their mean resolves finer
        /// than any one of them.
        var mean: Double { overheads.isEmpty ? 0 : overheads.reduce(0, +) / Double(overheads.count) }

        func percentile(_ p: Double) -> Double {
            overheads.isEmpty ? 0 : overheads[min(overheads.count - 1, Int(Double(overheads.count) * p))]
        }
    }

    /// `calls` tasks of one run fanned out over an `llm` agent, `concurrency` at once, on a new
    /// SQLite file.
    static func measureTasks(calls: Int, concurrency: Int, latency: Duration, base: URL) async throws -> Figures {
        let folder = try BenchFolder()
        defer { folder.remove() }
        let engine = try await folder.engine(options: ["--max-concurrency", "\(concurrency)"])
        _ = try await AgentRegistry(store: engine.store, kinds: engine.kinds, tenant: engine.tenant).register(
            [
                AgentSpec(
                    name: "bench-llm", kind: "llm", capabilities: ["bench-answer"],
                    configuration: [
                        "provider": "anthropic", "model": "bench-echo", "base_url": .string(base.absoluteString),
                        "max_tokens": 64,
                    ], maxConcurrency: concurrency, activate: true)
            ], actor: "bench")
        let workflow = """
            name: bench-llm
            inputs: {items: []}
            tasks:
              - id: ask
                capability: bench-answer
                for_each: ${{ inputs.items }}
                with: {prompt: "Say ${{ item }}"}
            """
        let definition = try await engine.validate(workflow, file: "bench-llm.yaml")
        let items = JSONValue.array((0..<calls).map { .number(Number($0)) }).jsonText
        let start = ContinuousClock.now
        let cpu = ProcessCPU.seconds()
        let id = try await engine.submit(
            definition, file: "bench-llm.yaml", inputs: ["items=\(items)"], actor: "bench", leased: true)
        let status = try await engine.execute([id])[id]
        let seconds = LedgerBench.seconds(ContinuousClock.now - start)
        let cpuPerCall = (ProcessCPU.seconds() - cpu) / Double(calls)
        guard status == .succeeded, let snapshot = try await engine.store.snapshot(of: id, tenant: engine.tenant) else {
            throw CLIError.operational("the benchmark's run did not succeed (\(status?.rawValue ?? "unknown"))")
        }
        let fake = LedgerBench.seconds(latency)
        let overheads = snapshot.attempts.compactMap { attempt in
            attempt.endedAt.map { $0.timeIntervalSince(attempt.startedAt) - fake }
        }
        return Figures(seconds: seconds, cpuPerCall: cpuPerCall, overheads: overheads.sorted())
    }

    /// A reference: the same calls from the model client alone (no store), `concurrency` at once.
    static func measurePlainClient(calls: Int, concurrency: Int, latency: Duration, base: URL) async throws -> Figures {
        let client = try await ModelClient(
            endpoint: ModelEndpoint(provider: .anthropic, baseURL: base, apiKey: ""), policy: .unrestricted,
            connections: concurrency)
        let logger = {
            var logger = Logger(label: "uaef-bench")
            logger.logLevel = .critical
            return logger
        }()
        do {
            let figures = try await measureLoop(calls: calls, concurrency: concurrency, latency: latency) { index in
                _ = try await client.call(
                    ModelRequest(model: "bench-echo", messages: [.user("Say \(index)")], maxTokens: 64), logger: logger)
            }
            await client.shutdown()
            return figures
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// The floor: the same request bodies posted by a plain AsyncHTTPClient loop, each answer's
    /// bytes read whole and not parsed. No model client, no store: what this machine's loopback
    /// HTTP and the fake cost on their own.
    static func measurePlainHTTP(calls: Int, concurrency: Int, latency: Duration, base: URL) async throws -> Figures {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let url = base.appendingPathComponent("v1/messages").absoluteString
        let endpoint = ModelEndpoint(provider: .anthropic, baseURL: base, apiKey: "")
        do {
            let figures = try await measureLoop(calls: calls, concurrency: concurrency, latency: latency) { index in
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.headers.add(name: "anthropic-version", value: AnthropicMessages.version)
                let body = AnthropicMessages.body(
                    ModelRequest(model: "bench-echo", messages: [.user("Say \(index)")], maxTokens: 64),
                    stream: endpoint.stream)
                request.body = .bytes(ByteBuffer(string: body.jsonText))
                let response = try await client.execute(request, timeout: .seconds(60))
                guard response.status == .ok else {
                    throw CLIError.operational("the fake answered the plain HTTP loop with \(response.status.code)")
                }
                _ = try await response.body.collect(upTo: 1 << 20)
            }
            try await client.shutdown()
            return figures
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// `calls` calls of `call` (given each call's index) from `concurrency` loops at once, each
    /// timed less the fake's latency.
    private static func measureLoop(
        calls: Int, concurrency: Int, latency: Duration, call: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> Figures {
        let tickets = WebhookBench.Tickets()
        let fake = LedgerBench.seconds(latency)
        let start = ContinuousClock.now
        let cpu = ProcessCPU.seconds()
        let overheads = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var overheads: [Double] = []
                    while case let index = tickets.take(), index < calls {
                        let sent = ContinuousClock.now
                        try await call(index)
                        overheads.append(LedgerBench.seconds(ContinuousClock.now - sent) - fake)
                    }
                    return overheads
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seconds = LedgerBench.seconds(ContinuousClock.now - start)
        let cpuPerCall = (ProcessCPU.seconds() - cpu) / Double(calls)
        return Figures(seconds: seconds, cpuPerCall: cpuPerCall, overheads: overheads.sorted())
    }

    /// Prints the three loops' figures.
    static func report(
        calls: Int, concurrency: Int, latency: Duration, tasks: Figures, plainClient plain: Figures,
        plainHTTP: Figures, reference: BenchReference, json: Bool
    ) {
        // Each loop's `--json` member, label and figures.
        let loops = [
            ("tasks", "UAEF (llm tasks)", tasks), ("plain_client", "model client alone", plain),
            ("plain_http", "plain HTTP client", plainHTTP),
        ]
        func milliseconds(_ value: Double) -> String { String(format: "%.3f", value * 1000) }
        func microseconds(_ value: Double) -> Int { Int((value * 1_000_000).rounded()) }
        // Little's law: with this many calls in flight, each taking the fake's latency and the
        // goal's millisecond, calls must complete at least this fast.
        let goal = 0.001
        let inFlight = min(concurrency, calls)
        let goalCallsPerSecond = Int((Double(inFlight) / (LedgerBench.seconds(latency) + goal)).rounded(.up))
        // The most calls a second this machine's cores could complete at a loop's CPU per call.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        func cpuBound(_ loop: Figures) -> Int { loop.cpuPerCall > 0 ? Int(Double(cores) / loop.cpuPerCall) : 0 }
        if json {
            var members: [String: JSONValue] = [
                "workload": "llm", "calls": .number(Number(calls)), "concurrency": .number(Number(concurrency)),
                "fake_latency_ms": BenchReference.number(LedgerBench.seconds(latency) * 1000, digits: 3),
                "uaef_cpu_us_per_call": .number(Number(microseconds(tasks.cpuPerCall - plain.cpuPerCall))),
                "goal_overhead_ms_p50": BenchReference.number(goal * 1000, digits: 3),
                "goal_calls_per_second": .number(Number(goalCallsPerSecond)), "cores": .number(Number(cores)),
                "reference": reference.json,
            ]
            for (name, _, loop) in loops {
                members[name] = [
                    "seconds": BenchReference.number(loop.seconds, digits: 3),
                    "calls_per_second": .number(Number(Int(Double(calls) / loop.seconds))),
                    "overhead_ms_p50": BenchReference.number(loop.percentile(0.5) * 1000, digits: 3),
                    "overhead_ms_p95": BenchReference.number(loop.percentile(0.95) * 1000, digits: 3),
                    "overhead_ms_mean": BenchReference.number(loop.mean * 1000, digits: 3),
                    "cpu_us_per_call": .number(Number(microseconds(loop.cpuPerCall))),
                    "cpu_bound_calls_per_second": .number(Number(cpuBound(loop))),
                ]
            }
            Console.printJSON(.object(members))
            return
        }
        print(
            "llm: \(calls) single-turn calls, \(concurrency) in flight, against a fake answering after "
                + "\(Int(LedgerBench.seconds(latency) * 1000)) ms; time per call beyond that latency, "
                + "and this process's CPU time per call (the fake's share included):")
        let width = loops.map(\.1.count).max() ?? 0
        for (_, label, loop) in loops {
            print(
                "  \(label.padding(toLength: width, withPad: " ", startingAt: 0))  "
                    + "\(Int(Double(calls) / loop.seconds)) calls/s, p50 \(milliseconds(loop.percentile(0.5))) ms, "
                    + "p95 \(milliseconds(loop.percentile(0.95))) ms, mean \(milliseconds(loop.mean)) ms, "
                    + "CPU \(microseconds(loop.cpuPerCall)) µs (at most \(cpuBound(loop)) calls/s on \(cores) cores)")
        }
        print(
            """
            goal: UAEF's p50 < \(Int(goal * 1000)) ms, which with \(inFlight) in flight needs \(goalCallsPerSecond) calls/s \
            or more (Little's law); UAEF's own CPU per call (beyond the model client alone): \
            \(microseconds(tasks.cpuPerCall - plain.cpuPerCall)) µs
            \(reference.text)
            """)
    }
}
