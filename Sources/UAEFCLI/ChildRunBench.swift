import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// `uaef bench children`: what a child run costs beside the same run started on its own. Each
/// repetition, on a fresh SQLite file with a one-task workflow registered: a parent run whose
/// `workflow` task fans out over N instances, each starting and waiting for a child of it,
/// executed to its end; then, as the reference, the same N runs started as top-level runs
/// (``Engine/start(_:actor:leased:alongside:)``) and each executed by a runner of its own, as many
/// at once as the children were (`--max-concurrency`, 64).
enum ChildRunBench {
    /// The goal: a child run costs under 1.5 times the same run started on its own (what it adds
    /// is its parent's attempt, started and ended in the parent's grouped commits).
    static let goalRatio = 1.5

    static func run(children: Int, repetitions: Int, json: Bool) async throws {
        guard children >= 1 else { throw CLIError.usage("--tasks must be at least 1 for children") }
        var parents: [Double] = []
        var references: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let folder = try BenchFolder()
            defer { folder.remove() }
            let engine = try await folder.engine()
            _ = try await engine.register(
                """
                name: bench-child
                inputs: {n: 0}
                tasks:
                  - {id: work, agent: echo, with: {n: "${{ inputs.n }}"}}
                """, origin: "bench-child.yaml", actor: "bench")
            let items = (0..<children).map(String.init).joined(separator: ", ")
            let source = """
                name: bench-parent
                inputs: {items: [\(items)]}
                tasks:
                  - id: child
                    agent: workflow
                    for_each: ${{ inputs.items }}
                    with: {workflow: bench-child, inputs: {n: "${{ item }}"}}
                """
            let started = ContinuousClock.now
            let definition = try await engine.validate(source, file: "bench-parent.yaml")
            let id = try await engine.submit(
                definition, file: "bench-parent.yaml", inputs: [], actor: "bench", leased: true)
            let status = try await engine.execute([id], definitions: [id: definition])[id]
            parents.append((ContinuousClock.now - started).timeInterval)
            guard status == .succeeded else {
                throw CLIError.operational("the benchmark's parent run ended \(status?.rawValue ?? "unknown")")
            }
            references.append(try await startAlone(children, engine: engine))
        }
        let reference = try BenchReference.measure()
        let parent = LambdaBench.median(parents)
        let alone = LambdaBench.median(references)
        let ratio = parent / max(alone, 1e-9)
        if json {
            return Console.printJSON([
                "workload": "children", "children": .number(Number(children)),
                "repetitions": .number(Number(repetitions)),
                "parent_ms": BenchReference.number(parent * 1000, digits: 2),
                "per_child_ms": BenchReference.number(parent * 1000 / Double(children), digits: 3),
                "alone_ms": BenchReference.number(alone * 1000, digits: 2),
                "per_run_alone_ms": BenchReference.number(alone * 1000 / Double(children), digits: 3),
                "children_to_alone": BenchReference.number(ratio, digits: 3),
                "goal_children_to_alone": BenchReference.number(goalRatio, digits: 2),
                "reference": reference.json,
            ])
        }
        func ms(_ seconds: Double) -> String {
            String(format: "%.1f ms (%.3f ms a run)", seconds * 1000, seconds * 1000 / Double(children))
        }
        print("children: \(children) child runs of a one-task workflow; medians of \(repetitions)")
        print("  \(Console.padded("started by a parent's workflow task", 36))  \(ms(parent))")
        print("  \(Console.padded("the same runs started on their own", 36))  \(ms(alone))")
        print(
            "  ratio \(String(format: "%.3f", ratio)) (goal: under \(String(format: "%.1f", goalRatio)))")
        print(reference.text)
    }

    /// Starts `count` runs of the child workflow as top-level runs, each executed by a runner of its
    /// own, as many at once as the engine's `--max-concurrency`; the seconds it took.
    private static func startAlone(_ count: Int, engine: Engine) async throws -> Double {
        let started = ContinuousClock.now
        let width = max(1, engine.configuration.maxConcurrency)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                if index >= width { try await group.next() }
                group.addTask {
                    let start = try await engine.start(
                        Engine.RunRequest(
                            workflow: "bench-child", inputs: ["n": .number(Number(index))], idempotencyKey: nil),
                        actor: "bench", leased: true)
                    let created = start.createdRecord.map { [start.run: $0] } ?? [:]
                    let status = try await engine.execute(
                        [start.run], definitions: [start.run: start.definition], created: created)[start.run]
                    guard status == .succeeded else {
                        throw CLIError.operational("a benchmark run ended \(status?.rawValue ?? "unknown")")
                    }
                }
            }
            try await group.waitForAll()
        }
        return (ContinuousClock.now - started).timeInterval
    }
}
