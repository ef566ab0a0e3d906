import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// `uaef workflows`: the tenant's registered workflows, which runs are started from by name
/// (`POST /v1/runs`, the MCP tool start_run, connector triggers).
struct WorkflowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows", abstract: "Register workflow definitions and list them.",
        subcommands: [Register.self, List.self, Show.self])

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate each file and register it as its workflow's next version.",
            discussion: """
                Registering the latest version's exact source again changes nothing. Every file is \
                validated first; when any is invalid, its problems are printed (file:line: field: \
                message; --json: {"valid": false, "errors"}), nothing is registered and the exit code \
                is 2. --json prints [{"name", "version", "sha256", "created", ...}].
                """)
        @Argument(help: "Workflow YAML or JSON files.") var files: [String]
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            guard !files.isEmpty else { throw CLIError.usage("name at least one workflow file") }
            let engine = try await engineOptions.engine()
            let sources = try files.map { file in (file, try Console.readFile(file)) }
            var issues: [ValidationIssue] = []
            for (file, source) in sources {
                do {
                    _ = try await engine.validate(source, file: file)
                } catch let failure as ValidationFailure {
                    issues += failure.issues
                }
            }
            if !issues.isEmpty { throw ValidationFailure(issues: issues) }
            var registered: [JSONValue] = []
            for (file, source) in sources {
                let registration = try await engine.register(source, origin: file, actor: CLIActor.current)
                var summary = WorkflowsCommand.json(registration.workflow)
                summary["created"] = .bool(registration.created)
                registered.append(.object(summary))
                if !json {
                    let verb = registration.created ? "registered" : "unchanged"
                    print("\(verb) \(registration.workflow.name) version \(registration.workflow.version)")
                }
            }
            if json { Console.printJSON(.array(registered)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The latest version of each registered workflow (--json: [{\"name\", \"version\", ...}]).")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let workflows = try await storeOptions.open().workflows(tenant: storeOptions.tenant)
            if json { return Console.printJSON(.array(workflows.map { .object(WorkflowsCommand.json($0)) })) }
            if workflows.isEmpty { print("no workflows registered (uaef workflows register FILE)") }
            for workflow in workflows {
                print(
                    "\(Console.padded(workflow.name, 24))  v\(Console.padded(String(workflow.version), 4))  \(Timestamp.format(workflow.createdAt))  \(workflow.createdBy)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a registered workflow's source (--json: its summary with \"source\").")
        @Argument(help: "The workflow's name.") var name: String
        @Option(help: "A version; the latest by default.") var version: Int?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let versions = try await storeOptions.open().workflowVersions(named: name, tenant: storeOptions.tenant)
            guard let latest = versions.last else {
                throw CLIError.usage(
                    "no workflow '\(name)' in tenant \(storeOptions.tenant); uaef workflows list names them")
            }
            let shown =
                try version.map { wanted in
                    guard let match = versions.first(where: { $0.version == wanted }) else {
                        throw CLIError.usage("workflow '\(name)' has versions 1 to \(latest.version), not \(wanted)")
                    }
                    return match
                } ?? latest
            guard json else { return print(shown.source, terminator: shown.source.hasSuffix("\n") ? "" : "\n") }
            var summary = WorkflowsCommand.json(shown)
            summary["source"] = .string(shown.source)
            Console.printJSON(.object(summary))
        }
    }

    /// `{"name", "version", "sha256", "created_at", "created_by"}`, as the API lists workflows.
    static func json(_ workflow: WorkflowRecord) -> [String: JSONValue] {
        [
            "name": .string(workflow.name), "version": .number(Number(workflow.version)),
            "sha256": .string(workflow.sha256), "created_at": .string(Timestamp.format(workflow.createdAt)),
            "created_by": .string(workflow.createdBy),
        ]
    }
}
