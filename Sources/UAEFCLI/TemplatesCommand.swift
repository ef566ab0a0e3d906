import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTemplates

/// `uaef templates`: ready-made business processes (and an operator's own) made into workflows.
struct TemplatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "templates",
        abstract: "List workflow templates, show one, make a workflow from one, check template files.",
        discussion: """
            A template is a workflow with parameters: the capabilities it asks agents for, approval \
            roles and thresholds, retries, timeouts. `use` fills them in and prints the workflow \
            (or registers it), which then runs like any other. Built in: invoice-approval, \
            supplier-onboarding, account-reconciliation, document-triage; --templates DIR (or \
            $UAEF_TEMPLATES) adds every template file in DIR. See docs/templates.md.

              uaef templates show invoice-approval
              uaef templates use invoice-approval --name eu-invoices --set approval_threshold=5000 \\
                  --set approver_role=controller --register
            """,
        subcommands: [List.self, Show.self, Use.self, Check.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The templates available: name, version, category and title.",
            discussion:
                "--json prints [{\"name\", \"version\", \"title\", \"description\", \"category\", \"sha256\", \"parameters\"}]."
        )
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var templateOptions: TemplateOptions

        func run() async throws {
            let templates = try templateOptions.catalog().templates
            if json { return Console.printJSON(.array(templates.map { $0.json(source: false) })) }
            for template in templates {
                print(
                    "\(Console.padded(template.name, 24))  v\(Console.padded(String(template.version), 3))  \(Console.padded(template.category ?? "", 12))  \(template.title)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A template's description and parameters (--source: its file).",
            discussion:
                "--json prints {\"name\", …, \"parameters\": [{\"name\", \"description\", \"schema\", \"required\", \"default\"}], \"source\"}."
        )
        @Argument(help: "A template's name, or the path of a template file.") var template: String
        @Flag(help: "Print the template file as it is.") var source = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var templateOptions: TemplateOptions

        func run() async throws {
            let template = try templateOptions.template(self.template)
            if json { return Console.printJSON(template.json(source: true)) }
            if source { return print(template.source, terminator: template.source.hasSuffix("\n") ? "" : "\n") }
            print("\(template.name) version \(template.version): \(template.title)")
            print(template.description)
            print("\nparameters (--set NAME=VALUE):")
            for parameter in template.parameters {
                let value = parameter.defaultValue.map { "default \($0.jsonText)" } ?? "required"
                print("  \(Console.padded(parameter.name, 22))  \(JSONSchema(parameter.schema).summary); \(value)")
                print("  \(String(repeating: " ", count: 22))  \(parameter.description)")
            }
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a workflow from a template: print it, write it to a file, or register it.",
            discussion: """
                Values come from --values FILE (a YAML or JSON mapping) and then --set NAME=VALUE \
                (JSON when it is JSON, else text); parameters not given take their defaults. Every \
                bad value is reported, naming the parameter (exit 2). The workflow opens with a \
                comment naming the template and the values. --register validates it against this \
                store's agents and registers it as its name's next version, recording the template \
                and the values in the workflow.registered event. --json prints {"workflow", \
                "parameters", "template", "source", "registered"?: {"name", "version", "created", ...}}.
                """)
        @Argument(help: "A template's name, or the path of a template file.") var template: String
        @Option(help: "The workflow's name (default: the template's).") var name: String?
        @Option(
            name: .customLong("set"),
            help: ArgumentHelp(
                "A parameter's value: NAME=VALUE (VALUE read as JSON when it is JSON).", valueName: "name=value"))
        var assignments: [String] = []
        @Option(help: ArgumentHelp("A YAML or JSON file mapping parameter names to values.", valueName: "file"))
        var values: String?
        @Option(name: [.short, .long], help: ArgumentHelp("Write the workflow to this file.", valueName: "file"))
        var output: String?
        @Flag(help: "Register the workflow in the store (as `uaef workflows register` would).") var register = false
        @Flag(help: "With --register: register it even over a workflow of that name the template did not make.")
        var replace = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var templateOptions: TemplateOptions
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let template = try templateOptions.template(self.template)
            var given = try values.map { try TemplateOptions.readValues($0) } ?? [:]
            for (key, value) in try TemplateOptions.parseAssignments(assignments, for: template) { given[key] = value }
            let instance = try template.instantiate(named: name, values: given, place: "--set")
            if let output {
                do {
                    try instance.source.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    throw CLIError.operational("cannot write \(output): \(error.localizedDescription)")
                }
            }
            var registered: JSONValue?
            if register {
                let engine = try await engineOptions.engine()
                if !replace,
                    let latest = try await engine.store.workflowVersions(
                        named: instance.workflowName, tenant: engine.tenant
                    ).last,
                    let takeover = template.takeover(of: latest.name, version: latest.version, source: latest.source)
                {
                    throw CLIError.usage(
                        "\(takeover); give another --name, or --replace to register this as its next version")
                }
                let registration = try await engine.register(
                    instance.source, origin: "template \(template.name)", actor: CLIActor.current,
                    template: instance.provenance)
                var summary = WorkflowsCommand.json(registration.workflow)
                summary["created"] = .bool(registration.created)
                registered = .object(summary)
                if !json {
                    let verb = registration.created ? "registered" : "unchanged"
                    print(
                        "\(verb) \(registration.workflow.name) version \(registration.workflow.version) from template \(template.name) version \(template.version)"
                    )
                }
            }
            if json {
                var report: [String: JSONValue] = [
                    "workflow": .string(instance.workflowName), "parameters": .object(instance.parameters),
                    "template": instance.provenance, "source": .string(instance.source),
                ]
                report["registered"] = registered
                return Console.printJSON(.object(report))
            }
            if output == nil, !register { print(instance.source, terminator: "") }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check template files completely, as an author does before sharing them.",
            discussion: """
                Each file is read as a template (every problem as file:line: field: message), then \
                made into a workflow with its defaults (or --set values) and that workflow is \
                validated against the built-in agent kinds, any capability accepted. Exit 0 when \
                all are valid, 2 otherwise. --json prints [{"file", "valid", "template"?, "errors"?}].
                """)
        @Argument(help: "Template files (YAML or JSON).") var files: [String]
        @Option(
            name: .customLong("set"),
            help: ArgumentHelp("A value for a required parameter: NAME=VALUE.", valueName: "name=value"))
        var assignments: [String] = []
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            guard !files.isEmpty else { throw CLIError.usage("name at least one template file") }
            let engine = try await engineOptions.engine()
            let assignments = self.assignments
            var reports: [JSONValue] = []
            var invalid = false
            for file in files {
                do {
                    let template = try TemplateReader.read(try Console.readFile(file), file: file)
                    let values = try TemplateOptions.parseAssignments(assignments, for: template)
                        .filter { key, _ in template.parameter(named: key) != nil }
                    let instance = try template.instantiate(values: values, place: "\(file) with its defaults")
                    _ = try await engine.validate(
                        instance.source, file: "\(file) made with its defaults", anyCapability: true)
                    reports.append(["file": .string(file), "valid": true, "template": .string(template.name)])
                    if !json { print("\(file): valid: template \(template.name) version \(template.version)") }
                } catch let failure as ValidationFailure {
                    invalid = true
                    reports.append([
                        "file": .string(file), "valid": false,
                        "errors": .array(failure.issues.map { .string($0.description) }),
                    ])
                    if !json { for issue in failure.issues { Console.error(issue.description) } }
                }
            }
            if json { Console.printJSON(.array(reports)) }
            if invalid { throw ExitCode(2) }
        }
    }
}

/// Where templates come from: the built-in ones and an operator's directory.
struct TemplateOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A directory of template files to offer besides the built-in ones. Default: $UAEF_TEMPLATES, else none.",
            valueName: "dir"))
    var templates: String?

    /// The directory named by the option or the environment.
    var directory: String? {
        templates ?? ProcessInfo.processInfo.environment["UAEF_TEMPLATES"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func catalog() throws -> TemplateCatalog { try TemplateCatalog.load(directory: directory) }

    /// The template a name (from the catalogue) or a path (a file read as a template) names.
    func template(_ nameOrPath: String) throws -> WorkflowTemplate {
        let looksLikeFile =
            nameOrPath.contains("/") || [".yaml", ".yml", ".json"].contains { nameOrPath.hasSuffix($0) }
        if looksLikeFile { return try TemplateReader.read(try Console.readFile(nameOrPath), file: nameOrPath) }
        let catalog = try catalog()
        guard let template = catalog.template(named: nameOrPath) else {
            throw CLIError.usage(catalog.unknown(nameOrPath) + " (uaef templates list)")
        }
        return template
    }

    /// `NAME=VALUE` assignments, each value read as its parameter takes it
    /// (``TemplateParameter/value(typed:)``; for a name the template does not declare, JSON when
    /// it is JSON, else text).
    static func parseAssignments(_ assignments: [String], for template: WorkflowTemplate) throws -> [String: JSONValue]
    {
        var values: [String: JSONValue] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw CLIError.usage("--set \(assignment): expected NAME=VALUE")
            }
            let name = String(assignment[..<equals])
            let text = String(assignment[assignment.index(after: equals)...])
            values[name] =
                template.parameter(named: name)?.value(typed: text) ?? (try? JSONValue(jsonText: text)) ?? .string(text)
        }
        return values
    }

    /// A YAML or JSON file mapping parameter names to values.
    static func readValues(_ path: String) throws -> [String: JSONValue] {
        let text = try Console.readFile(path)
        let root: YAMLSource
        switch YAMLSource.parse(text, file: path) {
        case .success(let source): root = source
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        guard case .success(.object(let values)) = root.jsonValue() else {
            throw CLIError.usage("\(path): expected a mapping of parameter names to values")
        }
        return values
    }
}
