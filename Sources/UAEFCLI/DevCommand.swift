import ArgumentParser
import Foundation
import UAEFCore
import UAEFFakes

/// `uaef dev`: local stand-ins for outside services, for trying UAEF and testing against it.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Local stand-ins for outside services (a model provider, an ERP), for development and tests.",
        subcommands: [FakeLLMCommand.self, FakeERPCommand.self, FakeLambdaRuntimeCommand.self])
}

/// `uaef dev fake-llm`: a model provider on this machine.
struct FakeLLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-llm",
        abstract: "Serve a scripted model provider speaking the Anthropic Messages and OpenAI chat APIs.",
        discussion: """
            Answers POST /v1/messages (Anthropic: base URL http://HOST:PORT) and POST \
            /v1/chat/completions (OpenAI-compatible: base URL http://HOST:PORT/v1), whole or streamed, \
            from a script: per model name, the answer for each turn (text, tool calls, usage, \
            failures served first such as 529 or 429 with retry-after). A model the script does not \
            name answers "echo: " and the last user text. GET /$fake/calls lists the calls answered. \
            Prints "listening on http://HOST:PORT" when ready (--json: {"listening", "port"}); \
            --port 0 picks a free port. Script format: docs/llm.md. Exit 0 when stopped, 2 for a bad \
            option or script, 3 when the port is unavailable.
            """)

    @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The TCP port (0 picks a free one).") var port: Int = 8090
    @Option(help: "The script (YAML or JSON). Without one every model echoes.") var script: String?
    @Option(help: "The API key callers must present (x-api-key or Authorization: Bearer); default: any.")
    var apiKey: String?
    @Flag(help: "Print the listening line as JSON.") var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
    }

    func run() async throws {
        var parsed = FakeModelScript()
        if let script {
            guard let text = try? String(contentsOfFile: script, encoding: .utf8) else {
                throw CLIError.usage("uaef dev fake-llm: cannot read the script \(script)")
            }
            do {
                parsed = try FakeModelScript.parse(text, file: script)
            } catch {
                throw CLIError.usage("uaef dev fake-llm: \(error)")
            }
        }
        let server = FakeModelServer(script: parsed, apiKey: apiKey)
        try await serve(name: "fake-llm", host: host, port: port, path: "", json: json) { onListening in
            try await server.run(host: host, port: port, onListening: onListening)
        }
    }
}

/// Runs a fake server, printing its URL (`path` appended) once it listens.
func serve(
    name: String, host: String, port: Int, path: String, json: Bool,
    _ run: (@escaping @Sendable (Int) -> Void) async throws -> Void
) async throws {
    do {
        try await run { port in
            let url = "http://\(host):\(port)\(path)"
            print(
                json
                    ? JSONValue.object(["listening": .string(url), "port": .number(Number(port))]).jsonText
                    : "uaef dev \(name): listening on \(url)")
            fflush(nil)
        }
    } catch {
        throw CLIError.operational("uaef dev \(name) on \(host):\(port) stopped: \(error)")
    }
}

/// `uaef dev fake-erp`: an ERP's API on this machine.
struct FakeERPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-erp",
        abstract: "Serve a fake of SAP S/4HANA's supplier invoices or Oracle Fusion's Payables invoices API.",
        discussion: """
            --sap serves API_SUPPLIERINVOICE_PROCESS_SRV at /sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV: \
            Basic authentication of one communication user, CSRF tokens with session cookies, the deep \
            insert of A_SupplierInvoice with its items (checked: mandatory properties, lengths, decimals, \
            dates), reads with $filter and $select, and the Post, Release and Cancel function imports. \
            --oracle serves the Payables invoices REST resource at \
            /fscmRestApi/resources/11.13.18.05/invoices: Basic authentication, creation with mandatory \
            attributes and invoice numbers unique per supplier (AP-810776), queries by example (q=), and \
            Journal Import through erpintegrations (importBulkData with GlInterface.csv, ESS status). \
            Invoices live in memory until it stops. GET /$fake/invoices lists them; POST /$fake/faults \
            makes the next creates fail (docs/erp.md). Prints "listening on URL" (the service root, or \
            the pod's base URL for --oracle) when ready (--json: {"listening", "port"}); --port 0 picks \
            a free port. Exit 0 when stopped, 2 for a bad option, 3 when the port is unavailable.
            """)

    @Flag(help: "Serve SAP S/4HANA's API_SUPPLIERINVOICE_PROCESS_SRV.") var sap = false
    @Flag(help: "Serve Oracle Fusion's Payables invoices REST resource.") var oracle = false
    @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The TCP port (0 picks a free one).") var port: Int = 8091
    @Option(help: "The user callers authenticate as (Basic); default COMM_USER (SAP), INTEGRATION_USER (Oracle).")
    var user: String?
    @Option(help: "The communication user's password.") var password: String = "secret"
    @Option(help: "The SAP client (three digits), as in the session cookies.") var client: String = "100"
    @Option(help: "How long a session and its CSRF token live, such as 30m.") var sessionLifetime: String = "30m"
    @Option(help: "For --oracle: how many status reads an import request takes to end.") var pollsToFinish: Int = 2
    @Flag(help: "Print the listening line as JSON.") var json = false

    func validate() throws {
        guard sap != oracle else { throw ValidationError("name the one ERP to serve: --sap or --oracle") }
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
        guard (1...1000).contains(pollsToFinish) else {
            throw ValidationError("--polls-to-finish must be from 1 to 1000")
        }
        guard client.count == 3, client.allSatisfy(\.isNumber) else {
            throw ValidationError("--client \(client) is not an SAP client (three digits, such as 100)")
        }
        guard DurationText.parse(sessionLifetime).map({ $0 > .zero }) == true else {
            throw ValidationError("--session-lifetime \(sessionLifetime) is not a duration such as 30m")
        }
    }

    func run() async throws {
        if oracle {
            let server = FakeOracleServer(
                user: user ?? "INTEGRATION_USER", password: password, pollsToFinish: pollsToFinish)
            return try await serve(name: "fake-erp", host: host, port: port, path: "", json: json) { onListening in
                try await server.run(host: host, port: port, onListening: onListening)
            }
        }
        let server = FakeSAPServer(
            options: .init(
                user: user ?? "COMM_USER", password: password, client: client,
                sessionLifetime: DurationText.parse(sessionLifetime) ?? .seconds(1_800)))
        try await serve(name: "fake-erp", host: host, port: port, path: FakeSAPServer.servicePath, json: json) {
            onListening in
            try await server.run(host: host, port: port, onListening: onListening)
        }
    }
}

/// `uaef dev lambda-runtime`: the AWS Lambda Runtime API on this machine.
struct FakeLambdaRuntimeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda-runtime",
        abstract: "Serve a fake of the AWS Lambda Runtime API, to run uaef's bootstrap (uaef lambda) locally.",
        discussion: """
            Serves the Runtime API's endpoints (GET /2018-06-01/runtime/invocation/next, POST \
            …/invocation/ID/response and …/ID/error, POST /2018-06-01/runtime/init/error) and POST /invoke, \
            which queues its body as an event and answers with the function's answer (its error with \
            X-Amz-Function-Error: Unhandled); ?timeout_ms=N sets the invocation's deadline (default \
            30000). Start the function with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT uaef lambda --handler \
            api (docs/deploying.md). GET /$fake/init-error shows a reported init error; POST /$fake/faults \
            with {"kind": "fail_next"} makes the next /next answer 500. Prints "listening on URL" when \
            ready (--json: {"listening", "port"}); --port 0 picks a free port. Exit 0 when stopped, 2 for \
            a bad option, 3 when the port is unavailable.
            """)

    @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "The TCP port (0 picks a free one).") var port: Int = 9001
    @Flag(help: "Print the listening line as JSON.") var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
    }

    func run() async throws {
        let runtime = FakeLambdaRuntime()
        try await serve(name: "lambda-runtime", host: host, port: port, path: "", json: json) { onListening in
            try await runtime.run(host: host, port: port, onListening: onListening)
        }
    }
}
