import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a workflow file completely without running it.",
        discussion: "Exit 0 when valid, 2 with every problem listed (file:line: field: message) when not.")

    @Argument(help: "The workflow file (YAML or JSON).") var file: String
    @Flag(help: "Print the result as JSON.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let engine = try await engineOptions.engine()
        do {
            let definition = try await engine.validate(try Console.readFile(file), file: file)
            if json {
                Console.printJSON([
                    "valid": true, "workflow": .string(definition.name), "version": .number(Number(definition.version)),
                    "tasks": .number(Number(definition.tasks.count)),
                ])
            } else {
                print(
                    "\(file): valid: workflow \(definition.name) v\(definition.version), \(definition.tasks.count) tasks"
                )
            }
        } catch let failure as ValidationFailure where json {
            throw Console.printInvalid(failure)
        }
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a run of a workflow and execute it in this process until it ends.",
        discussion: """
            Shows live progress on a terminal; --json prints one JSON object:
            {"run_id", "workflow", "status", "tasks": {"<task id or id[index]>": {"status", "attempts", "agent", "output", "error"}}}
            Exit codes: 0 the run succeeded, 1 it failed or was cancelled, 2 usage or validation error, 3 store or system error.
            If this process stops, `uaef resume` continues the run.
            """)

    @OptionGroup var workflow: WorkflowArguments
    @Flag(help: "Print the finished run as JSON.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let engine = try await engineOptions.engine()
        let (definition, id) = try await workflow.submit(to: engine, leased: true)
        if !json, Console.stderrIsTerminal { FileHandle.standardError.write(Data("run \(id) started\n".utf8)) }
        let display = !json && Console.stderrIsTerminal ? ProgressDisplay() : nil
        let statuses = try await engine.execute([id], definitions: [id: definition], progress: display?.callback)
        display?.finish()
        try await LedgerKeys.settleAndCheckpoint(engine, engineOptions.storeOptions)
        try await RunOutput.print(id, engine: engine, json: json)
        guard statuses[id] == .succeeded else { throw ExitCode(1) }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue every unfinished run that no live process is executing, and wait for them.",
        discussion: """
            Use after a crash or a stop: tasks that succeeded are never run again; an attempt that was cut
            off counts as an attempt and is retried if its retry policy allows. Exit 0 when every resumed
            run succeeded (or there was none), 1 otherwise.
            """)

    @Flag(help: "Print the resumed runs as a JSON list.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let engine = try await engineOptions.engine()
        let display = !json && Console.stderrIsTerminal ? ProgressDisplay() : nil
        let statuses = try await engine.resume(progress: display?.callback)
        display?.finish()
        if !statuses.isEmpty {
            try await LedgerKeys.settleAndCheckpoint(engine, engineOptions.storeOptions)
        }
        if json {
            var reports: [JSONValue] = []
            for id in statuses.keys.sorted() { reports.append(try await engine.report(id) ?? .null) }
            Console.printJSON(.array(reports))
        } else if statuses.isEmpty {
            print("no unfinished runs")
        } else {
            for id in statuses.keys.sorted() { print("\(id)  \(statuses[id]!.rawValue)") }
        }
        guard statuses.values.allSatisfy({ $0 == .succeeded }) else { throw ExitCode(1) }
    }
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Create a run of a workflow without executing it, and print its id.",
        discussion: """
            The run waits, pending, for a process that executes runs: uaef worker or uaef resume on this store. \
            uaef runs wait ID waits for it to end. JSON: {"run_id", "workflow", "status"}.
            """)

    @OptionGroup var workflow: WorkflowArguments
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let engine = try await engineOptions.engine()
        let (definition, id) = try await workflow.submit(to: engine, leased: false)
        if json {
            Console.printJSON([
                "run_id": .string(id.rawValue), "workflow": .string(definition.name), "status": "pending",
            ])
        } else {
            print(id)
        }
    }
}

/// The workflow a command starts, and its input overrides.
struct WorkflowArguments: ParsableArguments {
    @Argument(help: "The workflow file (YAML or JSON).") var file: String
    @Option(
        name: .customLong("input"),
        help: ArgumentHelp("Override an input: key=value (value read as JSON when it is JSON).", valueName: "key=value")
    )
    var inputs: [String] = []

    /// Validates the workflow and creates its run; `leased` when this process executes it.
    func submit(to engine: Engine, leased: Bool) async throws -> (WorkflowDefinition, RunID) {
        let definition = try await engine.validate(try Console.readFile(file), file: file)
        let id = try await engine.submit(
            definition, file: file, inputs: inputs, actor: CLIActor.current, leased: leased)
        return (definition, id)
    }
}
