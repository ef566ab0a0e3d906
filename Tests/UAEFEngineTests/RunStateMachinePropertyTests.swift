import Foundation
import Testing
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

@Suite("Run state machine properties over random workflows")
struct RunStateMachinePropertyTests {
    /// A random DAG: each task depends on some earlier ones, with random triggers, conditions,
    /// retries and fan-outs.
    static func randomWorkflow(using random: inout SeededRandom) -> String {
        let count = Int.random(in: 1...14, using: &random)
        var lines = ["name: random", "concurrency: \(Int.random(in: 1...5, using: &random))", "tasks:"]
        for index in 0..<count {
            var fields = ["id: t\(index)", "agent: noop"]
            let dependencies = (0..<index).filter { _ in Int.random(in: 0..<3, using: &random) == 0 }
            if !dependencies.isEmpty {
                fields.append("depends_on: [\(dependencies.map { "t\($0)" }.joined(separator: ", "))]")
            }
            if Bool.random(using: &random) {
                fields.append("trigger: \(TriggerRule.allCases.randomElement(using: &random)!.rawValue)")
            }
            if Int.random(in: 0..<5, using: &random) == 0 { fields.append("when: \(Bool.random(using: &random))") }
            if Int.random(in: 0..<4, using: &random) == 0 {
                fields.append(
                    "for_each: [\((0..<Int.random(in: 0...3, using: &random)).map(String.init).joined(separator: ", "))]"
                )
            }
            fields.append("retry: {max_attempts: \(Int.random(in: 1...3, using: &random)), backoff: 10ms}")
            lines.append("  - {\(fields.joined(separator: ", "))}")
        }
        return lines.joined(separator: "\n")
    }

    @Test(
        "every random run ends; tasks start only after their dependencies; outcomes obey the rules", arguments: 0..<300)
    func randomRuns(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let yaml = Self.randomWorkflow(using: &random)
        var harness = try Harness(yaml)
        let definition = harness.machine.definition
        var pending: [EngineAction] = harness.handle(.start)
        var steps = 0
        while !harness.machine.isFinished {
            steps += 1
            try #require(steps < 10_000, "run did not end: \(yaml)")
            try #require(!pending.isEmpty, "nothing left to do but the run has not ended: \(yaml)")
            let action = pending.remove(at: Int.random(in: 0..<pending.count, using: &random))
            switch action {
            case .startAttempt(let request):
                let task = try #require(definition.task(request.taskID))
                for dependency in task.dependsOn {
                    #expect(
                        harness.status(dependency)?.isTerminal == true,
                        "\(request.key) started before \(dependency) ended")
                }
                #expect(request.attempt <= task.retry.maxAttempts)
                let result: AttemptResult =
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: .failed(message: "random failure", retryable: Bool.random(using: &random))
                    case 1: .timedOut(after: .milliseconds(5))
                    default: .succeeded(.null)
                    }
                pending += harness.handle(.attemptFinished(key: request.key, attempt: request.attempt, result: result))
            case .scheduleRetry(let key, _):
                pending += harness.handle(.retryDue(key: key))
            case .cancelAttempt, .runFinished:
                break
            }
        }
        let tasks = harness.machine.tasks.values
        #expect(tasks.allSatisfy { $0.status.isTerminal }, "\(yaml)")
        let anyFailed = definition.tasks.contains { harness.status($0.id) == .failed }
        #expect(harness.machine.run.status == (anyFailed ? .failed : .succeeded))
        for task in definition.tasks where harness.status(task.id) == .succeeded || harness.status(task.id) == .failed {
            // A task that ran had its trigger met.
            let statuses = task.dependsOn.compactMap { harness.status($0) }
            switch task.trigger {
            case .noneFailed: #expect(!statuses.contains(.failed))
            case .allSuccess: #expect(statuses.allSatisfy { $0 == .succeeded })
            case .oneFailed: #expect(statuses.contains(.failed))
            case .oneSuccess: #expect(statuses.isEmpty || statuses.contains(.succeeded))
            case .allDone: break
            }
        }
        // Exactly one terminal event per task and instance; the run's last event is its end.
        let terminalTypes: Set<String> = ["task.succeeded", "task.failed", "task.skipped", "task.cancelled"]
        let terminalSubjects = harness.events.filter { terminalTypes.contains($0.type) }.map(\.subject)
        #expect(terminalSubjects.count == Set(terminalSubjects).count)
        #expect(terminalSubjects.count == tasks.count)
        #expect(harness.events.last?.type == "run.\(harness.machine.run.status.rawValue)")
    }
}
