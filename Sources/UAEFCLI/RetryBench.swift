import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// `uaef bench retry`: what retrying a run from where it stopped costs. Each repetition, on a
/// fresh SQLite file: a run of one task fanned out over N instances (`echo`), every tenth of which
/// fails (its `with:` divides by `run.retry_count`, 0 in the run's first go), executed until it
/// fails; then the run retried: the reopen alone (``Engine/retry(_:actor:)``: the run read, its
/// reopened tasks and the `run.retried` event committed) and the retry executed to its end (the
/// failed tenth and their parent run again, the rest kept). The first go is the reference: a
/// retry should cost about the share of the work it reruns.
enum RetryBench {
    /// The goals: reopening a run of 1,000 tasks takes under 50 ms at p50, and executing the retry
    /// takes under half the run's first go (it reruns a tenth of the instances).
    static let goalReopenSeconds = 0.050
    static let goalShare = 0.5

    static func run(instances: Int, repetitions: Int, json: Bool) async throws {
        guard instances >= 10 else { throw CLIError.usage("--tasks must be at least 10 for retry") }
        var firstGoes: [Double] = []
        var reopens: [Double] = []
        var retries: [Double] = []
        var reopened = 0
        for _ in 0..<max(1, repetitions) {
            let folder = try BenchFolder()
            defer { folder.remove() }
            let engine = try await folder.engine()
            let items = (0..<instances).map(String.init).joined(separator: ", ")
            let source = """
                name: bench-retry
                inputs: {items: [\(items)]}
                tasks:
                  - id: each
                    agent: echo
                    for_each: ${{ inputs.items }}
                    with: {share: "${{ item % 10 == 0 && 1 / run.retry_count }}"}
                """
            let started = ContinuousClock.now
            let definition = try await engine.validate(source, file: "bench-retry.yaml")
            let id = try await engine.submit(
                definition, file: "bench-retry.yaml", inputs: [], actor: "bench", leased: true)
            let first = try await engine.execute([id], definitions: [id: definition])[id]
            firstGoes.append((ContinuousClock.now - started).timeInterval)
            guard first == .failed else {
                throw CLIError.operational("the benchmark's run ended \(first?.rawValue ?? "unknown"), not failed")
            }
            let reopenStarted = ContinuousClock.now
            guard let outcome = try await engine.retry(id, actor: "bench", leased: true) else {
                throw CLIError.operational("the benchmark's run \(id) disappeared")
            }
            let reopenEnded = ContinuousClock.now
            let status = try await engine.execute([id])[id]
            retries.append((ContinuousClock.now - reopenEnded).timeInterval)
            reopens.append((reopenEnded - reopenStarted).timeInterval)
            reopened = outcome.reopened.count
            guard status == .succeeded else {
                throw CLIError.operational("the retried run ended \(status?.rawValue ?? "unknown"), not succeeded")
            }
        }
        let reference = try BenchReference.measure()
        let first = LambdaBench.median(firstGoes)
        let reopen = LambdaBench.median(reopens)
        let retry = LambdaBench.median(retries)
        if json {
            return Console.printJSON([
                "workload": "retry", "instances": .number(Number(instances)),
                "repetitions": .number(Number(repetitions)), "reopened": .number(Number(reopened)),
                "first_go_ms": BenchReference.number(first * 1000, digits: 2),
                "reopen_ms": BenchReference.number(reopen * 1000, digits: 2),
                "retry_ms": BenchReference.number(retry * 1000, digits: 2),
                "retry_to_first_go": BenchReference.number(retry / max(first, 1e-9), digits: 3),
                "reopen_in_sqlite_commits": BenchReference.number(reopen / reference.commitSeconds, digits: 1),
                "goal_reopen_ms": BenchReference.number(goalReopenSeconds * 1000, digits: 0),
                "goal_retry_to_first_go": BenchReference.number(goalShare, digits: 2),
                "reference": reference.json,
            ])
        }
        func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }
        let rows = [
            ("first go to its failure", ms(first), ""),
            (
                "reopen (\(reopened) tasks)", ms(reopen),
                "= \(String(format: "%.1f", reopen / reference.commitSeconds)) SQLite commits (goal: under \(String(format: "%.0f", goalReopenSeconds * 1000)) ms)"
            ),
            (
                "retry executed to its end", ms(retry),
                "= \(String(format: "%.3f", retry / max(first, 1e-9))) of the first go (goal: under \(String(format: "%.2f", goalShare)))"
            ),
        ]
        print(
            "retry: a run of one task fanned out over \(instances) instances, a tenth failing; medians of \(repetitions)"
        )
        for (label, value, note) in rows {
            print("  \(Console.padded(label, 26))  \(value)" + (note.isEmpty ? "" : "  " + note))
        }
        print(reference.text)
    }
}
