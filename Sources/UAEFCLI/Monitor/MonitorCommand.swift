import ArgumentParser
import Foundation
import UAEFCore

/// `uaef monitor`: a live full-screen view of a server's runs, like `htop` for runs.
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch a server's runs live in the terminal: progress, the selected run's tasks, agents, failures.",
        discussion: """
            Reads the server's /v1 API with a token (its tenant and roles apply), every --interval. \
            Keys: up/down (or k/j) select a run, f cycles the status filter (all, running, pending, \
            failed, succeeded, cancelled), c cancels the selected run after y confirms, q (or Ctrl-C) \
            quits. Works over SSH in any terminal with ANSI escapes. When standard output is not a \
            terminal it prints the runs as plain text every --interval instead (--once: one time and \
            exit; --json: one snapshot as JSON). Exit 0 when quit, 2 for bad options, 3 when the \
            server cannot be read (--once, --json).
            Example: uaef monitor --server http://127.0.0.1:8080 --token-file token
            """)

    @Option(help: "The server's base URL. Default: $UAEF_SERVER, else http://127.0.0.1:8080.") var server: String?
    @Option(help: "A bearer token. Default: $UAEF_TOKEN.") var token: String?
    @Option(help: "A file holding the bearer token.") var tokenFile: String?
    @Option(help: "How often the screen is read again (\(DurationText.expectation)).") var interval: String = "1s"
    @Option(help: "Show only runs in this status.") var status: String?
    @Flag(help: "Print one plain snapshot and exit.") var once = false
    @Flag(help: "Print one snapshot as JSON and exit.") var json = false

    func validate() throws {
        guard let duration = DurationText.parse(interval), duration >= .milliseconds(100) else {
            throw ValidationError("--interval \(interval): expected \(DurationText.expectation), at least 100ms")
        }
        if let status, !MonitorState.filters.contains(status) {
            let valid = MonitorState.filters.compactMap { $0 }.joined(separator: ", ")
            throw ValidationError("--status \(status): one of \(valid)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let base = (server ?? environment["UAEF_SERVER"] ?? "http://127.0.0.1:8080")
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw CLIError.usage("--server \(base): give the server's http:// or https:// URL")
        }
        var bearer = token ?? environment["UAEF_TOKEN"]
        if let tokenFile {
            do {
                bearer = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)
            } catch {
                throw CLIError.usage("--token-file \(tokenFile): cannot be read (\(error.localizedDescription))")
            }
        }
        guard let bearer, !bearer.isEmpty else {
            throw CLIError.usage("give a token: --token, --token-file or UAEF_TOKEN (uaef tokens issue makes one)")
        }
        let client = MonitorClient(server: base.hasSuffix("/") ? String(base.dropLast()) : base, token: bearer)
        let period = DurationText.parse(interval) ?? .seconds(1)
        if once || json || !TerminalSession.isInteractive {
            try await plain(client, period: period, server: base)
        } else {
            try await interactive(client, period: period, server: base)
        }
    }

    /// Plain text (or one JSON snapshot) for pipes, logs and scripts.
    private func plain(_ client: MonitorClient, period: Duration, server: String) async throws {
        var snapshot = MonitorSnapshot()
        repeat {
            do {
                snapshot = try await client.snapshot(filter: status, selected: nil, limit: 20)
            } catch {
                if once || json { throw CLIError.operational("uaef monitor: \(server): \(error)") }
                print("\(Timestamp.format(Date())) \(server) ! \(error)")
                try await Task.sleep(for: period)
                continue
            }
            if json {
                print(Self.json(snapshot).jsonText)
                return
            }
            print(MonitorScreen(snapshot: snapshot, state: MonitorState(), server: server, colours: false).plain)
            fflush(nil)
            if once { return }
            try await Task.sleep(for: period)
        } while !Task.isCancelled
    }

    /// The full-screen view until `q`, Ctrl-C or a signal.
    private func interactive(_ client: MonitorClient, period: Duration, server: String) async throws {
        let terminal = TerminalSession()
        defer { terminal.restore() }
        try await StopSignals.cancelling({
            var state = MonitorState(filter: status)
            var snapshot = MonitorSnapshot()
            let (events, input) = AsyncStream<MonitorState.Key?>.makeStream()
            // nil is the ticker's "read again"; keys come from the terminal.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await key in terminal.keys() { input.yield(key) }
                    input.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        input.yield(nil)
                        try? await Task.sleep(for: period)
                    }
                }
                loop: for await event in events {
                    var action = MonitorState.Action.refresh
                    if let key = event { action = state.handle(key, in: snapshot) }
                    switch action {
                    case .quit: break loop
                    case .cancel(let run):
                        do {
                            try await client.cancel(run)
                            state.message = "cancellation of \(run) requested"
                        } catch {
                            state.message = "\(run) was not cancelled: \(error)"
                        }
                    case .refresh, .none: break
                    }
                    if action != .none {
                        do {
                            snapshot = try await client.snapshot(
                                filter: state.filter, selected: state.selected,
                                limit: max(5, terminal.size.height - 12))
                            state.follow(snapshot)
                        } catch {
                            snapshot.problem = "\(error)"
                        }
                    }
                    let size = terminal.size
                    terminal.draw(
                        MonitorScreen(snapshot: snapshot, state: state, server: server, colours: true).lines(
                            width: size.width, height: size.height))
                }
                group.cancelAll()
            }
        })
    }

    /// `{"time", "runs": [{"run_id", "workflow", "status", "finished_tasks", "tasks", "error"}], "agents": [...]}`.
    static func json(_ snapshot: MonitorSnapshot) -> JSONValue {
        [
            "time": .string(Timestamp.format(snapshot.time)),
            "runs": .array(
                snapshot.runs.map {
                    [
                        "run_id": .string($0.id), "workflow": .string($0.workflow), "status": .string($0.status),
                        "finished_tasks": .number(Number($0.finishedTasks)), "tasks": .number(Number($0.tasks)),
                        "error": $0.error.map(JSONValue.string) ?? .null,
                    ]
                }),
            "agents": .array(
                snapshot.agents.map {
                    [
                        "name": .string($0.name), "status": .string($0.status), "running": .number(Number($0.running)),
                        "max_concurrency": .number(Number($0.maxConcurrency)),
                    ]
                }),
        ]
    }
}
