import ArgumentParser
import Foundation
import UAEFCore
import UAEFFakes

/// `uaef dev`: local stand-ins for outside services, for trying UAEF and testing against it.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Local stand-ins for outside services (a model provider), for development and tests.",
        subcommands: [FakeLLMCommand.self])
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
        let (host, json) = (host, json)
        do {
            try await FakeModelServer(script: parsed, apiKey: apiKey).run(host: host, port: port) { port in
                let url = "http://\(host):\(port)"
                print(
                    json
                        ? JSONValue.object(["listening": .string(url), "port": .number(Number(port))]).jsonText
                        : "uaef dev fake-llm: listening on \(url)")
                fflush(nil)
            }
        } catch {
            throw CLIError.operational("uaef dev fake-llm on \(host):\(port) stopped: \(error)")
        }
    }
}
