import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List, inspect, cancel and retry runs.",
        subcommands: [List.self, Show.self, Wait.self, Cancel.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @Option(help: "Only runs with this status (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))).")
        var status: String?
        @Option(help: "Only the child runs that this run's workflow tasks started.") var parent: String?
        @Option(help: "The most runs to list (1-1000).") var limit: Int = 50
        @Option(help: "Only runs older than this one (the last listed before): the next page.") var before: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws { try Console.checkLimit(limit, upTo: 1_000) }

        func run() async throws {
            let filter = try Console.choice(status, option: "--status", as: RunStatus.self)
            let store = try await storeOptions.open()
            let runs = try await store.runs(
                tenant: storeOptions.tenant,
                matching: RunFilter(status: filter, parent: parent.map(RunID.init), before: before.map(RunID.init)),
                limit: limit)
            let counts = try await store.taskCounts(of: runs.map(\.id), tenant: storeOptions.tenant)
            if json {
                Console.printJSON(.array(runs.map { RunReport.summary($0, taskCounts: counts[$0.id] ?? [:]) }))
                return
            }
            if runs.isEmpty { print("no runs") }
            for run in runs {
                let tasks = counts[run.id] ?? [:]
                print(
                    "\(run.id)  \(Console.padded(run.status.rawValue, 10))  \(Timestamp.format(run.createdAt))  "
                        + "\(Console.padded("\(tasks.ended)/\(tasks.total) tasks", 13))  \(run.workflowName)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run and its tasks.")
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Print the same JSON as `uaef run --json`.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            try await RunOutput.print(RunID(id), engine: try await engineOptions.engine(), json: json)
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until a run ends, then print it as uaef run does.",
            discussion: """
                Another process executes the run (uaef run, uaef worker, uaef resume). Exit 0 when it succeeded, 1 when it \
                failed or was cancelled, 3 when --timeout passes first. --json prints the same JSON as uaef run --json.
                """)
        @Argument(help: "The run id.") var id: String
        @Option(help: "Give up after this long (e.g. 30s, 10m); no limit by default.") var timeout: String?
        @Flag(help: "Print the finished run as JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func validate() throws {
            if let timeout, DurationText.parse(timeout) == nil {
                throw ValidationError("--timeout \(timeout): expected \(DurationText.expectation)")
            }
        }

        func run() async throws {
            let engine = try await engineOptions.engine()
            let deadline = timeout.flatMap(DurationText.parse).map { ContinuousClock.now + $0 }
            while true {
                guard let snapshot = try await engine.store.snapshot(of: RunID(id), tenant: engine.tenant) else {
                    throw CLIError.usage("no run \(id) in tenant \(engine.tenant)")
                }
                if snapshot.run.status.isTerminal {
                    try await RunOutput.print(RunID(id), engine: engine, json: json)
                    guard snapshot.run.status == .succeeded else { throw ExitCode(1) }
                    return
                }
                if let deadline, ContinuousClock.now >= deadline {
                    throw CLIError.operational(
                        "run \(id) is still \(snapshot.run.status.rawValue) after \(timeout ?? "")")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a run: running attempts are stopped and nothing new starts.",
            discussion: """
                A run that a live process executes is cancelled by that process within a second. The child runs it \
                waits for are cancelled with it; children started without waiting (wait: false) go on, unless \
                --tree is given: then every run below it that has not ended is cancelled too, whatever the run \
                itself came to.
                --json prints {"run_id", "status", "cancel_requested"}, and "descendants" (how many runs below it \
                were asked to stop) with --tree.
                Exit codes: 0 asked (or the run had already ended), 2 no such run, 3 store or system error.
                """)
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Also cancel every run below it that has not ended, children started without waiting included.")
        var tree = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let run: RunRecord
            var descendants: Int?
            if tree {
                guard let found = try await engine.cancelTree(RunID(id), actor: CLIActor.current) else {
                    throw CLIError.usage("no run \(id) in tenant \(engine.tenant)")
                }
                (run, descendants) = (found.run, found.descendants)
            } else {
                guard let found = try await engine.cancel(RunID(id), actor: CLIActor.current) else {
                    throw CLIError.usage("no run \(id) in tenant \(engine.tenant)")
                }
                run = found
            }
            let state = run.status.isTerminal ? run.status.rawValue : "cancellation requested"
            if json {
                var object: [String: JSONValue] = [
                    "run_id": .string(id), "status": .string(run.status.rawValue), "cancel_requested": true,
                ]
                if let descendants { object["descendants"] = .number(Number(descendants)) }
                Console.printJSON(.object(object))
            } else if let descendants {
                print("\(id): \(state); \(descendants) run\(descendants == 1 ? "" : "s") below it asked to stop")
            } else {
                print("\(id): \(state)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Retry a failed or cancelled run from where it stopped, or any ended run from tasks you name, and execute it here until it ends.",
            discussion: """
                Tasks that succeeded keep their outputs and do not run again. Tasks that failed or were cancelled \
                run again with their retries afresh, and so does every task downstream of them; a fanned-out task \
                whose list is unchanged runs only its instances that did not succeed. The run keeps its id, inputs \
                and workflow version, and its timeout counts from the retry. A run.retried event records who \
                retried it and which tasks run again.
                --from TASK (repeatable) also runs TASK again whatever it did, all its fan-out instances, and every \
                task downstream of it; --from 'TASK[i]' runs that one instance again, its siblings kept. With \
                --from a run that succeeded may be run again too, unless it is a child its parent waited for. \
                What reaches outside is keyed per run and task: an SAP or Oracle invoice task adopts the invoice it \
                made, and messages go under the same ids (see docs/workflows.md, Running again from chosen tasks).
                With --detach the run is left for a process that executes runs (uaef serve, uaef worker, uaef resume).
                --json prints the finished run as uaef run --json does; with --detach \
                {"run_id", "status", "retry_count", "tasks"} (the tasks that run again).
                Exit codes: 0 the run succeeded (with --detach: it was reopened), 1 it failed or was cancelled \
                again, 2 no such run or task, or it cannot be retried (it has not ended, or it succeeded and no \
                task is named), 3 store or system error. If this process stops, uaef resume continues the run.
                """)
        @Argument(help: "The run id.") var id: String
        @Option(
            name: .customLong("from"),
            help: ArgumentHelp(
                "Also run this task (or fan-out instance, task[i]) again, and every task downstream of it, whatever it did (repeatable).",
                valueName: "task"))
        var from: [String] = []
        @Flag(help: "Reopen the run and leave it for another process to execute.") var detach = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let runID = RunID(id)
            let outcome: RunRetry.Outcome
            do {
                guard
                    let found = try await engine.retry(runID, from: from, actor: CLIActor.current, leased: !detach)
                else {
                    throw CLIError.usage("no run \(id) in tenant \(engine.tenant)")
                }
                outcome = found
            } catch let refusal as RunRetry.Refusal {
                throw CLIError.usage(refusal.description)
            }
            let listed = outcome.reopened.prefix(10).joined(separator: ", ")
            let again =
                outcome.reopened.isEmpty
                ? "nothing" : listed + (outcome.reopened.count > 10 ? " and \(outcome.reopened.count - 10) more" : "")
            if detach {
                if json {
                    Console.printJSON([
                        "run_id": .string(id), "status": .string(outcome.run.status.rawValue),
                        "retry_count": .number(Number(outcome.run.retryCount)),
                        "tasks": .array(outcome.reopened.map(JSONValue.string)),
                    ])
                } else {
                    print(
                        "\(id): retry \(outcome.run.retryCount) waits for a process that executes runs; runs again: \(again)"
                    )
                }
                return
            }
            if !json, Console.stderrIsTerminal {
                FileHandle.standardError.write(
                    Data("run \(id) retried (retry \(outcome.run.retryCount)); runs again: \(again)\n".utf8))
            }
            let display = !json && Console.stderrIsTerminal ? ProgressDisplay() : nil
            // This process holds the reopened run's lease: nobody else takes it up meanwhile.
            let status = try await engine.execute([runID], progress: display?.callback)[runID]
            display?.finish()
            try await LedgerKeys.settleAndCheckpoint(engine, engineOptions.storeOptions)
            try await RunOutput.print(runID, engine: engine, json: json)
            guard status == .succeeded else { throw ExitCode(1) }
        }
    }
}
