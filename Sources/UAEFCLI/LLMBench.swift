import ArgumentParser
import Foundation
import Logging
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
        let reference = try BenchReference.measure()
        report(
            calls: calls, concurrency: concurrency, latency: latency, tasks: tasks, plain: plain, reference: reference,
            json: json)
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try await EngineOptions.parse([
            "--store", "sqlite:" + directory.appendingPathComponent("bench.db").path, "--max-concurrency",
            "\(concurrency)",
        ]).engine()
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

    /// The reference: the same calls from the model client alone, `concurrency` at once.
    static func measurePlainClient(calls: Int, concurrency: Int, latency: Duration, base: URL) async throws -> Figures {
        let client = try await ModelClient(
            endpoint: ModelEndpoint(provider: .anthropic, baseURL: base, apiKey: ""), policy: .unrestricted,
            connections: concurrency)
        let tickets = WebhookBench.Tickets()
        let fake = LedgerBench.seconds(latency)
        let logger = {
            var logger = Logger(label: "uaef-bench")
            logger.logLevel = .critical
            return logger
        }()
        let start = ContinuousClock.now
        let cpu = ProcessCPU.seconds()
        do {
            let overheads = try await withThrowingTaskGroup(of: [Double].self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var overheads: [Double] = []
                        while case let index = tickets.take(), index < calls {
                            let sent = ContinuousClock.now
                            _ = try await client.call(
                                ModelRequest(model: "bench-echo", messages: [.user("Say \(index)")], maxTokens: 64),
                                logger: logger)
                            overheads.append(LedgerBench.seconds(ContinuousClock.now - sent) - fake)
                        }
                        return overheads
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let seconds = LedgerBench.seconds(ContinuousClock.now - start)
            let cpuPerCall = (ProcessCPU.seconds() - cpu) / Double(calls)
            await client.shutdown()
            return Figures(seconds: seconds, cpuPerCall: cpuPerCall, overheads: overheads.sorted())
        } catch {
            await client.shutdown()
            throw error
        }
    }

    static func report(
        calls: Int, concurrency: Int, latency: Duration, tasks: Figures, plain: Figures, reference: BenchReference,
        json: Bool
    ) {
        func milliseconds(_ value: Double) -> JSONValue { BenchReference.number(value * 1000, digits: 3) }
        func microseconds(_ value: Double) -> JSONValue { .number(Number(Int((value * 1_000_000).rounded()))) }
        let median = tasks.percentile(0.5)
        let plainMedian = plain.percentile(0.5)
        if json {
            Console.printJSON([
                "workload": "llm", "calls": .number(Number(calls)), "concurrency": .number(Number(concurrency)),
                "fake_latency_ms": milliseconds(LedgerBench.seconds(latency)),
                "tasks": [
                    "seconds": BenchReference.number(tasks.seconds, digits: 3),
                    "calls_per_second": .number(Number(Int(Double(calls) / tasks.seconds))),
                    "overhead_ms_p50": milliseconds(median), "overhead_ms_p95": milliseconds(tasks.percentile(0.95)),
                    "overhead_ms_mean": milliseconds(tasks.mean), "cpu_us_per_call": microseconds(tasks.cpuPerCall),
                ],
                "plain_client": [
                    "seconds": BenchReference.number(plain.seconds, digits: 3),
                    "overhead_ms_p50": milliseconds(plainMedian),
                    "overhead_ms_p95": milliseconds(plain.percentile(0.95)),
                    "overhead_ms_mean": milliseconds(plain.mean),
                    "calls_per_second": .number(Number(Int(Double(calls) / plain.seconds))),
                    "cpu_us_per_call": microseconds(plain.cpuPerCall),
                ],
                "uaef_cpu_us_per_call": microseconds(tasks.cpuPerCall - plain.cpuPerCall),
                "goal_overhead_ms_p50": 1, "reference": reference.json,
            ])
            return
        }
        print(
            """
            llm: \(calls) single-turn tasks, \(concurrency) in flight, against a fake answering after \(Int(LedgerBench.seconds(latency) * 1000)) ms: \
            \(String(format: "%.3f", tasks.seconds)) s = \(Int(Double(calls) / tasks.seconds)) calls/s; \
            UAEF's time per call beyond the fake's: p50 \(String(format: "%.3f", median * 1000)) ms, \
            p95 \(String(format: "%.3f", tasks.percentile(0.95) * 1000)) ms, \
            mean \(String(format: "%.3f", tasks.mean * 1000)) ms (goal p50 < 1 ms)
            the same calls from the model client alone: \(Int(Double(calls) / plain.seconds)) calls/s; \
            p50 \(String(format: "%.3f", plainMedian * 1000)) ms, \
            p95 \(String(format: "%.3f", plain.percentile(0.95) * 1000)) ms, \
            mean \(String(format: "%.3f", plain.mean * 1000)) ms beyond the fake's latency
            CPU per call (this process, the fake's share included): \(Int(tasks.cpuPerCall * 1_000_000)) µs with UAEF, \
            \(Int(plain.cpuPerCall * 1_000_000)) µs from the client alone, so UAEF's own \
            \(Int((tasks.cpuPerCall - plain.cpuPerCall) * 1_000_000)) µs
            \(reference.text)
            """)
    }
}
