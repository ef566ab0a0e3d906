import ArgumentParser
import AsyncHTTPClient
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// `uaef agent`: be a remote agent of a `uaef serve`.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Act as a remote agent of a UAEF server.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Claim the agent's tasks from a server and run COMMAND for each (task JSON on stdin, output JSON on stdout).",
            discussion: """
                Register the agent first with kind remote and its capabilities (uaef agents register, or \
                POST /v1/agents), activate it and create a key (POST /v1/agents/{id}/keys). The engine \
                assigns the agent the tasks needing its capabilities; this command claims them with a long \
                poll, runs COMMAND with the task on stdin ({"task_id", "run_id", "key", "attempt", \
                "idempotency_key", "input", …}), heartbeats while it runs, and completes the task with \
                COMMAND's stdout (parsed as JSON when it is JSON, else {"stdout": …}) or fails it with the \
                exit code and the end of stderr. COMMAND also gets UAEF_RUN_ID, UAEF_TASK, UAEF_ATTEMPT and \
                UAEF_IDEMPOTENCY_KEY. Prints one line per task (--json: {"task_id", "run_id", "key", \
                "status"}). Stops on SIGINT or SIGTERM; a task in hand is claimed again after its lease.
                Example: uaef agent run --server http://127.0.0.1:8080 --token $KEY -- python3 ocr.py
                """)

        @Option(help: "The server's base URL. Default: $UAEF_SERVER.") var server: String?
        @Option(help: "The agent's API key (uaef_ak_…) or a bearer token. Default: $UAEF_AGENT_KEY.") var token: String?
        @Option(help: "The agent's id or name; 'me' is the agent of the key.") var agent: String = "me"
        @Option(
            name: .customLong("capability"),
            help: "Claim only tasks that asked for this capability (repeat for more; default: every task of the agent)."
        )
        var capabilities: [String] = []
        @Option(help: "Tasks run at once.") var concurrency: Int = 1
        @Option(help: "How long one claim waits for work (\(DurationText.expectation)); at most 60s.") var wait:
            String = "30s"
        @Flag(help: "Print JSON Lines.") var json = false
        @Argument(parsing: .postTerminator, help: "The command run for each task, after --.") var command: [String] = []

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. -- python3 ocr.py") }
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
            guard let duration = DurationText.parse(wait), duration <= .seconds(60) else {
                throw ValidationError("--wait \(wait): expected \(DurationText.expectation), at most 60s")
            }
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard
                let server = (server ?? environment["UAEF_SERVER"]).map({
                    $0.hasSuffix("/") ? String($0.dropLast()) : $0
                }),
                server.hasPrefix("http://") || server.hasPrefix("https://")
            else { throw CLIError.usage("--server (or UAEF_SERVER) must be the server's http:// or https:// URL") }
            guard let token = token ?? environment["UAEF_AGENT_KEY"], !token.isEmpty else {
                throw CLIError.usage("--token (or UAEF_AGENT_KEY) must be the agent's key")
            }
            let filter = capabilities.map {
                "&capability=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)
            }
            let client = RemoteAgentClient(
                base: server + "/v1/agents/\(agent)", token: token, claimQuery: "wait=\(wait)" + filter.joined(),
                command: command, json: json)
            let work = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<concurrency { group.addTask { try await client.loop() } }
                    try await group.waitForAll()
                }
            }
            let signals = [SIGINT, SIGTERM].map { (number: Int32) -> any DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { work.cancel() }
                source.resume()
                return source
            }
            defer { for source in signals { source.cancel() } }
            do {
                try await work.value
            } catch is CancellationError {
                return
            }
        }
    }
}

/// One remote agent's conversation with the server: claim, run, heartbeat, complete or fail.
struct RemoteAgentClient: Sendable {
    let base: String
    let token: String
    /// `wait=…` and any `capability=…` filters.
    let claimQuery: String
    let command: [String]
    let json: Bool

    struct Reply {
        var status: UInt
        var body: JSONValue?
    }

    /// Claims and runs tasks until cancelled; rides out an unreachable server with backoff and
    /// stops on a refusal that retrying cannot fix (bad key, inactive agent).
    func loop() async throws {
        var failures = 0
        while !Task.isCancelled {
            do {
                let claim = try await send("claim?" + claimQuery, body: nil)
                failures = 0
                switch claim.status {
                case 204: continue
                case 200: try await handle(claim.body ?? .null)
                default: throw CLIError.usage("the server refused the claim: \(Self.detail(claim))")
                }
            } catch let error as CLIError {
                throw error
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                let delay = min(30, 1 << min(failures, 5))
                Console.warn("uaef agent: \(error); retrying in \(delay) s")
                try await Task.sleep(for: .seconds(delay))
            }
        }
    }

    /// Runs COMMAND for one claimed task, heartbeating until it ends, and reports the outcome.
    private func handle(_ task: JSONValue) async throws {
        guard let id = task["task_id"]?.stringValue, let generation = task["generation"]?.numberValue?.intValue else {
            throw CLIError.operational("the server's claim lacks task_id or generation: \(task.jsonText)")
        }
        let request = AttemptRequest(
            runID: RunID(task["run_id"]?.stringValue ?? ""), tenant: "", workflow: task["workflow"]?.stringValue ?? "",
            key: task["key"]?.stringValue ?? "", taskID: task["key"]?.stringValue ?? "",
            attempt: task["attempt"]?.numberValue?.intValue ?? 1,
            idempotencyKey: task["idempotency_key"]?.stringValue ?? id, kind: "command", agent: nil,
            parameters: ["command": .array(command.map(JSONValue.string)), "stdin": .string(task.jsonText)],
            timeout: nil)
        // The command runs while heartbeats extend the lease; a heartbeat refused (the attempt
        // ended: timed out, its run cancelled, retried or resumed elsewhere) stops the command,
        // whose outcome nobody would take.
        let ended = try await withThrowingTaskGroup(of: Ended?.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(5))
                    // A heartbeat that cannot be sent leaves the completion's fence to decide.
                    guard
                        let reply = try? await send(
                            "tasks/\(id)/heartbeat", body: ["generation": .number(Number(generation))])
                    else { continue }
                    if reply.status == 409 { return .leaseLost(Self.detail(reply)) }
                }
            }
            group.addTask { .finished(try await Self.outcome(of: request, generation: generation)) }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let next { return next }
            }
            throw CancellationError()
        }
        let status: String
        switch ended {
        case .leaseLost(let detail):
            status = "stopped (\(detail))"
        case .finished(let outcome):
            let reply = try await send("tasks/\(id)/\(outcome.verb)", body: outcome.body)
            status =
                reply.status == 200
                ? (outcome.verb == "complete" ? "succeeded" : "failed") : "refused (\(Self.detail(reply)))"
        }
        let line: JSONValue = [
            "task_id": .string(id), "run_id": task["run_id"] ?? .null, "key": task["key"] ?? .null,
            "status": .string(status),
        ]
        print(
            json
                ? line.jsonText
                : "\(id)  \(task["run_id"]?.stringValue ?? "")/\(task["key"]?.stringValue ?? "")  \(status)")
        fflush(nil)
    }

    /// How a claimed task ended here.
    private enum Ended: Sendable {
        /// The command ended: the call that reports it (`complete` or `fail`) and its body.
        case finished((verb: String, body: JSONValue))
        /// A heartbeat was refused (`detail` says why): the command was stopped, nothing reported.
        case leaseLost(String)
    }

    /// Runs the command of `request` and says what to report under `generation`.
    private static func outcome(of request: AttemptRequest, generation: Int) async throws -> (
        verb: String, body: JSONValue
    ) {
        do {
            let output = try await CommandAgent().execute(request, logger: Logger(label: "uaef-agent"))
            return ("complete", ["generation": .number(Number(generation)), "output": output])
        } catch let failure as AgentFailure {
            return (
                "fail",
                [
                    "generation": .number(Number(generation)), "error": .string(failure.message),
                    "retryable": .bool(failure.retryable),
                ]
            )
        }
    }

    private func send(_ path: String, body: JSONValue?) async throws -> Reply {
        var request = HTTPClientRequest(url: base + "/" + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(90))
        var buffer = try await response.body.collect(upTo: 16 << 20)
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        if response.status == .unauthorized || response.status == .forbidden {
            throw CLIError.usage(
                "the server refused the agent: \(Self.detail(Reply(status: response.status.code, body: try? JSONValue(jsonText: text))))"
            )
        }
        return Reply(status: response.status.code, body: try? JSONValue(jsonText: text))
    }

    private static func detail(_ reply: Reply) -> String {
        reply.body?["detail"]?.stringValue ?? "HTTP \(reply.status)"
    }
}
