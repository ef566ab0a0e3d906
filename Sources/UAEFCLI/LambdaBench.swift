import Foundation
import Synchronization
import UAEFCore
import UAEFFakes
import UAEFLedger

/// `uaef bench lambda`: cold starts of the Lambda bootstrap, from the process's start to its first
/// `GET /next` at the fake Runtime API in this process (the `api` handler, on the `--store`
/// PostgreSQL: the store is connected and the key read before the first `/next`). Beside it, in
/// the same invocation: the start and exit of `/bin/true` (the machine's process floor) and of
/// the same binary printing its help (loading it, no store).
enum LambdaBench {
    static let goalMilliseconds = 100.0

    static func run(bootstrap: String?, store: String, starts: Int, json: Bool) async throws {
        let executable = bootstrap ?? CommandLine.arguments[0]
        let arguments = (executable as NSString).lastPathComponent == "bootstrap" ? [] : ["lambda"]
        let folder = try BenchFolder()
        defer { folder.remove() }
        let key = folder.url.appendingPathComponent("ledger.key")
        try Data((try NoteSigner(generatingFor: "uaef.bench/lambda").text + "\n").utf8).write(to: key)
        let environment = [
            "_HANDLER": "api", "UAEF_STORE": store, "UAEF_LEDGER_KEY": key.path,
            "UAEF_TOKEN_SECRET": "a-benchmark-token-secret-of-at-least-32-bytes",
        ]
        var cold: [Double] = []
        for _ in 0..<starts {
            cold.append(try await coldStart(executable, arguments: arguments, environment: environment))
        }
        let floor = try (0..<starts).map { _ in try exitTime("/bin/true", []) }
        let load = try (0..<starts).map { _ in try exitTime(executable, arguments + ["--help"]) }
        let (coldMedian, floorMedian, loadMedian) = (median(cold), median(floor), median(load))
        let reference = try BenchReference.measure()
        if json {
            Console.printJSON([
                "workload": "lambda", "starts": .number(Number(starts)),
                "cold_start_ms": BenchReference.number(coldMedian * 1000, digits: 1),
                "cold_start_p90_ms": BenchReference.number(percentile(cold, 0.9) * 1000, digits: 1),
                "process_floor_ms": BenchReference.number(floorMedian * 1000, digits: 1),
                "binary_help_ms": BenchReference.number(loadMedian * 1000, digits: 1),
                "ratio_to_binary_help": BenchReference.number(coldMedian / loadMedian, digits: 2),
                "goal_ms": .number(Number(Int(goalMilliseconds))), "reference": reference.json,
            ])
            return
        }
        print(
            """
            lambda: \(starts) cold starts of \(executable) (api handler, PostgreSQL store), process start to first \
            /next: median \(format(coldMedian)) ms, p90 \(format(percentile(cold, 0.9))) ms (goal under \
            \(Int(goalMilliseconds)) ms)
            the same binary printing its help and exiting: \(format(loadMedian)) ms (the cold start takes \
            \(String(format: "%.2f", coldMedian / loadMedian))x as long); /bin/true: \(format(floorMedian)) ms
            \(reference.text)
            """)
    }

    /// Seconds from starting `executable` to its first `/next`, against a new fake Runtime API.
    static func coldStart(_ executable: String, arguments: [String], environment: [String: String]) async throws
        -> Double
    {
        let (nexts, arrived) = AsyncStream<ContinuousClock.Instant>.makeStream()
        let fake = FakeLambdaRuntime { arrived.yield(.now) }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await fake.run(port: 0) { continuation.yield($0) } }
            guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(
                environment.merging(["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"]) { $1 }
            ) { $1 }
            process.standardOutput = FileHandle.nullDevice
            // A bootstrap that exits without asking for an invocation ends the wait.
            process.terminationHandler = { _ in arrived.finish() }
            let started = ContinuousClock.now
            try process.run()
            var first: ContinuousClock.Instant?
            for await instant in nexts {
                first = instant
                break
            }
            process.terminate()
            process.waitUntilExit()
            group.cancelAll()
            guard let first else {
                throw CLIError.operational(
                    "\(executable) exited before asking for an invocation (status \(process.terminationStatus))")
            }
            let elapsed = first - started
            return elapsed.timeInterval
        }
    }

    /// Seconds from starting `executable` to its exit.
    static func exitTime(_ executable: String, _ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - started
        return elapsed.timeInterval
    }

    static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))]
    }

    static func format(_ seconds: Double) -> String { String(format: "%.1f", seconds * 1000) }
}
