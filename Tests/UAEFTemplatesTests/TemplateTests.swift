import Foundation
import Testing
import UAEFCore
import UAEFTemplates
import UAEFTestSupport

@Suite("Workflow templates: reading, checking and making workflows")
struct TemplateTests {
    static let template = """
        template: expense-check
        version: 2
        title: Expense check
        description: Checks an expense.
        parameters:
          limit:
            description: Expenses above this need approval.
            type: number
            minimum: 0
            default: 500
          role:
            description: Who approves.
            type: string
            pattern: "^[a-z]+$"
          tags:
            description: Tags to add.
            type: array
            items: {type: string}
            default: [travel]
          retry:
            description: The retry policy of the check.
            type: object
            default: {max_attempts: 2, backoff: 1s}
        workflow:
          description: "Expenses above ${{ params.limit }} need ${{ params.role }}"
          inputs: {amount: 0}
          tasks:
            - id: check
              agent: echo
              retry: ${{ params.retry }}
              with:
                over: ${{ inputs.amount > params.limit }}
                tags: ${{ params.tags }}
                role: '${{ params.role }}'
                note: |
                  Limit ${{ params.limit }} for ${{ inputs.amount }}
        """

    @Test("a template reads with its parameters in file order, their schemas, defaults and whether required")
    func reads() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        #expect(template.name == "expense-check")
        #expect(template.version == 2)
        #expect(template.parameters.map(\.name) == ["limit", "role", "tags", "retry"])
        #expect(template.parameter(named: "role")?.isRequired == true)
        #expect(template.parameter(named: "limit")?.defaultValue == 500)
        #expect(template.parameter(named: "limit")?.schema == ["type": "number", "minimum": 0])
    }

    @Test("an instance is a workflow with the values in place, typed, and run templates left for the run")
    func instantiates() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        let instance = try template.instantiate(
            named: "team-expenses", values: ["role": "true", "limit": 250], place: "--set")
        #expect(instance.parameters["tags"] == ["travel"])
        #expect(instance.source.hasPrefix("# Made from workflow template expense-check version 2"))
        let workflow = try Fixtures.workflow(instance.source)
        #expect(workflow.name == "team-expenses")
        #expect(workflow.description == "Expenses above 250 need true")
        let task = try #require(workflow.tasks.first)
        #expect(task.retry.maxAttempts == 2)
        let rendered = try task.parameters.render(in: ["inputs": ["amount": 300]])
        // "true" stays text (it came quoted); the comparison reads the run's input against 250.
        #expect(rendered == ["over": true, "tags": ["travel"], "role": "true", "note": "Limit 250 for 300"])
        #expect(
            instance.provenance
                == [
                    "name": "expense-check", "version": 2, "sha256": .string(template.sha256),
                    "parameters": [
                        "limit": 250, "role": "true", "tags": ["travel"],
                        "retry": ["max_attempts": 2, "backoff": "1s"],
                    ],
                ])
    }

    @Test("bad values are all reported, each naming the parameter, and nothing is made")
    func refusesValues() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        let failure = try #require(throws: ValidationFailure.self) {
            try template.instantiate(
                named: "bad name!", values: ["limit": -1, "tags": "travel", "colour": "red"], place: "--set")
        }
        let messages = failure.issues.map(\.description)
        #expect(messages.contains { $0.hasPrefix("--set: workflow: \"bad name!\" is not a workflow name") })
        #expect(
            messages.contains {
                $0.hasPrefix(
                    "--set: colour: unknown parameter 'colour'; template expense-check declares: limit, role, tags, retry"
                )
            })
        #expect(messages.contains("--set: role: required: Who approves."))
        #expect(messages.contains { $0.hasPrefix("--set: limit:") && $0.contains("at least 0") })
        #expect(messages.contains { $0.hasPrefix("--set: tags:") && $0.contains("array") })
        #expect(failure.issues.count == 5)
    }

    @Test("unknown parameters make one problem naming the first ten; a workflow over 1 MiB is refused")
    func boundedProblemsAndSize() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        var values: [String: JSONValue] = ["role": "x"]
        for index in 0..<1_000 { values["extra\(index)"] = true }
        let failure = try #require(throws: ValidationFailure.self) {
            try template.instantiate(values: values, place: "parameters")
        }
        #expect(failure.issues.count == 1)
        #expect(failure.issues.first?.message.contains("and 990 more; template expense-check declares") == true)

        let tasks = (0..<20).map { "    - {id: t\($0), agent: echo, with: {x: \"${{ params.text }}\"}}" }
        let wide = try TemplateReader.read(
            ([
                "template: wide", "title: W", "description: D", "parameters:",
                "  text: {type: string, description: T.}", "workflow:", "  tasks:",
            ] + tasks).joined(separator: "\n"),
            file: "wide.yaml")
        let big = String(repeating: "x", count: 60_000)
        let tooBig = try #require(throws: ValidationFailure.self) {
            try wide.instantiate(values: ["text": .string(big)], place: "parameters")
        }
        #expect(tooBig.issues.first?.message.contains("at most 1048576") == true)
        #expect(try wide.instantiate(values: ["text": "small"], place: "parameters").source.contains("x: \"small\""))
    }

    @Test("a template written with CRLF line ends keeps its flow collections")
    func crlfTemplate() throws {
        let lines = [
            "template: t", "title: T", "description: D", "parameters:",
            "  p: {type: string, default: x, description: P.}", "workflow:", "  description: ${{ params.p }}",
            "  tasks:", "    - {id: a, agent: echo, depends_on: []}",
        ]
        let template = try TemplateReader.read(lines.joined(separator: "\r\n") + "\r\n", file: "t.yaml")
        let instance = try template.instantiate(values: [:], place: "parameters")
        #expect(instance.source.contains("- {id: a, agent: echo, depends_on: []}"), "\(instance.source)")
    }

    @Test("a value typed in a form or on a command line is read as its parameter takes it")
    func typedValues() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        #expect(template.parameter(named: "role")?.value(typed: "true") == "true")
        #expect(template.parameter(named: "limit")?.value(typed: "250") == 250)
        #expect(template.parameter(named: "limit")?.value(typed: "lots") == "lots", "left for the schema to refuse")
        #expect(template.parameter(named: "tags")?.value(typed: "[\"a\"]") == ["a"])
        #expect(template.made(try template.instantiate(values: ["role": "x"], place: "p").source))
        #expect(!template.made("name: other\n"))
    }

    @Test("a value holding ${{ is refused: the run would read it as a template")
    func refusesTemplateInValue() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        #expect(throws: ValidationFailure.self) {
            try template.instantiate(values: ["role": "${{ inputs.amount }}"], place: "parameters")
        }
        #expect(throws: ValidationFailure.self) {
            try template.instantiate(values: ["role": "x", "tags": ["${{ run.id }}"]], place: "parameters")
        }
    }

    @Test("the opening comment shows every value in ASCII, so no value can end it and write YAML")
    func headerIsASCII() throws {
        let template = try TemplateReader.read(Self.template, file: "expense.yaml")
        let instance = try template.instantiate(
            values: ["role": "x", "tags": ["a\u{2028}name: evil\u{85}x: é"]], place: "parameters")
        let comment = instance.source.split(separator: "\n").prefix { $0.hasPrefix("#") }
        #expect(comment.count == 5)
        #expect(comment.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } })
        #expect(comment.contains { $0.contains(#"a\u2028name: evil\u0085x: \u00e9"#) })
        #expect(try Fixtures.workflow(instance.source).name == "expense-check")
    }

    @Test("a template's problems are all reported with their lines and fields")
    func reportsProblems() throws {
        let text = """
            template: Bad_Name
            title: T
            description: D
            colour: red
            parameters:
              limit: {type: number, default: "high", description: The limit.}
              unused: {type: string, description: Never read.}
              9lives: {type: string, description: Bad name.}
              nodesc: {type: string, default: x}
              badschema: {type: numbr, description: A typo.}
            workflow:
              name: fixed
              tasks:
                - id: a
                  agent: echo
                  with:
                    x: ${{ params.limit }}
                    y: ${{ params.missing }}
                    z: ${{ params.nodesc }} ${{ params.badschema }}
                    ${{ params.limit }}: key
            """
        let failure = try #require(throws: ValidationFailure.self) { try TemplateReader.read(text, file: "t.yaml") }
        let messages = failure.issues.map(\.description)
        #expect(messages.contains { $0.hasPrefix("t.yaml:1: template: \"Bad_Name\" is not a template name") })
        #expect(messages.contains { $0.hasPrefix("t.yaml:4: colour: unknown key 'colour'") })
        #expect(
            messages.contains {
                $0.hasPrefix("t.yaml:6: parameters.limit.default: the default does not pass the schema")
            })
        #expect(messages.contains { $0.hasPrefix("t.yaml:7: parameters.unused: declared but never read") })
        #expect(messages.contains { $0.hasPrefix("t.yaml:8: parameters.9lives: \"9lives\" is not a parameter name") })
        #expect(messages.contains { $0.hasPrefix("t.yaml:9: parameters.nodesc.description: required") })
        #expect(messages.contains { $0.hasPrefix("t.yaml:10: parameters.badschema") })
        #expect(messages.contains { $0.hasPrefix("t.yaml:12: workflow.name: a template's workflow has no name") })
        #expect(
            messages.contains {
                $0.hasPrefix("t.yaml:18: workflow.tasks[0].with.y: params.missing is not a parameter of this template")
            })
        #expect(
            messages.contains {
                $0.hasPrefix("t.yaml:20: workflow.tasks[0].with.${{ params.limit }}: keys are not templates")
            })
        #expect(messages.count == 10, "\(messages)")
    }

    @Test("an object parameter in an expression that also reads run data is refused at its line")
    func objectInMixedExpression() throws {
        let text = """
            template: t
            title: T
            description: D
            parameters:
              limits: {type: object, default: {max: 3}, description: Limits.}
            workflow:
              tasks:
                - id: a
                  agent: echo
                  when: ${{ inputs.n == params.limits }}
            """
        let template = try TemplateReader.read(text, file: "t.yaml")
        let failure = try #require(throws: ValidationFailure.self) {
            try template.instantiate(values: [:], place: "parameters")
        }
        #expect(
            failure.issues.map(\.description).first?.hasPrefix(
                "t.yaml:10: workflow.tasks[0].when: params.limits is an object") == true)
    }

    @Test("the built-in catalogue is exactly the files in templates/, each with a description on every parameter")
    func builtInsMatchTheSourceTree() throws {
        let directory = Fixtures.packageRoot.appendingPathComponent("templates")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        let sources = try Set(
            files.map { try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) })
        #expect(
            Set(TemplateCatalog.builtIn.templates.map(\.source)) == sources,
            "templates/ changed without scripts/embed-templates")
        #expect(TemplateCatalog.builtIn.templates.count >= 4)
        for template in TemplateCatalog.builtIn.templates {
            #expect(
                template.parameters.allSatisfy { !$0.isRequired }, "\(template.name): built-ins run with their defaults"
            )
        }
    }

    @Test("an operator's directory adds templates; a name a built-in has, or a broken file, is refused")
    func directoryCatalog() throws {
        let directory = try TemporaryDirectory("templates")
        defer { directory.remove() }
        try Self.template.write(toFile: directory.path("expense.yaml"), atomically: true, encoding: .utf8)
        try "not a template".write(toFile: directory.path("README.md"), atomically: true, encoding: .utf8)
        let catalog = try TemplateCatalog.load(directory: directory.url.path)
        #expect(catalog.template(named: "expense-check")?.origin == directory.path("expense.yaml"))
        #expect(catalog.template(named: "invoice-approval") != nil)

        let builtIn = try #require(TemplateCatalog.builtIn.template(named: "invoice-approval"))
        try builtIn.source.write(toFile: directory.path("copy.yaml"), atomically: true, encoding: .utf8)
        try "template: [".write(toFile: directory.path("broken.yml"), atomically: true, encoding: .utf8)
        let failure = try #require(throws: ValidationFailure.self) {
            try TemplateCatalog.load(directory: directory.url.path)
        }
        #expect(failure.issues.count == 2)
        #expect(
            failure.issues.contains {
                $0.file.hasSuffix("copy.yaml") && $0.message.contains("already the name of built-in")
            })
        #expect(failure.issues.contains { $0.file.hasSuffix("broken.yml") && $0.message.contains("not valid YAML") })
        #expect(throws: ValidationFailure.self) { try TemplateCatalog.load(directory: directory.path("absent")) }
    }
}
