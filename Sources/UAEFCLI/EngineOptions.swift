import ArgumentParser
import Foundation
import Logging
import Synchronization
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore

/// Options that build an ``Engine``: the store and runner settings.
struct EngineOptions: ParsableArguments {
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Attempts executing at once in this process.")
    var maxConcurrency: Int = 64

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level on standard error: trace, debug, info, notice, warning, error, critical. Default: $UAEF_LOG_LEVEL, else warning.",
            valueName: "level"))
    var logLevel: String?

    func validate() throws {
        guard maxConcurrency >= 1 else { throw ValidationError("--max-concurrency must be at least 1") }
        guard resolvedLogLevel != nil else {
            let valid = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("log level \(logLevel ?? "") is not one of \(valid)")
        }
    }

    /// The log level after flag and environment.
    private var resolvedLogLevel: Logger.Level? {
        Logger.Level(rawValue: logLevel ?? ProcessInfo.processInfo.environment["UAEF_LOG_LEVEL"] ?? "warning")
    }

    func engine() throws -> Engine {
        var configuration = Runner.Configuration()
        configuration.maxConcurrency = maxConcurrency
        var logger = Logger(label: "uaef") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = resolvedLogLevel ?? .warning
        return Engine(
            store: try storeOptions.open(), kinds: BuiltInAgents.registry, tenant: storeOptions.tenant,
            configuration: configuration, logger: logger)
    }
}

/// The person or program behind CLI changes, recorded as the actor of their events.
enum CLIActor {
    static var current: String {
        "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName)
    }
}

/// Draws a progress bar and the tasks running now on standard error, at most ten times a second.
final class ProgressDisplay: Sendable {
    private let lastDraw = Mutex(Date.distantPast)

    @Sendable func update(_ progress: Runner.Progress) {
        let now = Date()
        let due = lastDraw.withLock { last in
            guard now.timeIntervalSince(last) >= 0.1 else { return false }
            last = now
            return true
        }
        guard due else { return }
        let total = progress.counts.values.reduce(0, +)
        let done = progress.counts.filter(\.key.isTerminal).values.reduce(0, +)
        let width = 30
        let filled = total == 0 ? 0 : width * done / total
        let running = progress.running.prefix(4).joined(separator: ", ") + (progress.running.count > 4 ? ", …" : "")
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(bar)] \(done)/\(total) tasks" + (running.isEmpty ? "" : "  running: \(running)")
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
    }

    /// ``update(_:)`` as a progress callback.
    var callback: @Sendable (Runner.Progress) -> Void { { [self] progress in self.update(progress) } }

    func finish() { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
}
