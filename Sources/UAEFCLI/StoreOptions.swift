import ArgumentParser
import Foundation
import UAEFCore
import UAEFStore
import UAEFStoreSQLite

/// `--store` and `--tenant`, shared by every command that touches the store.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where state lives: sqlite:PATH. Default: $UAEF_STORE, else sqlite:uaef.db.", valueName: "url"))
    var store: String?

    @Option(name: .long, help: "The tenant whose runs and agents to use.")
    var tenant: String = "default"

    /// The store URL after flag and environment: flag, then `UAEF_STORE`, then the default.
    var storeURL: String { store ?? ProcessInfo.processInfo.environment["UAEF_STORE"] ?? "sqlite:uaef.db" }

    /// Opens the store the URL names.
    func open() throws -> any WorkflowStore {
        let url = storeURL
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw CLIError.usage("--store \(url): expected sqlite:PATH, e.g. sqlite:uaef.db")
            }
            do {
                return try SQLiteStore(path: path)
            } catch {
                throw CLIError.operational("cannot open the SQLite store at \(path): \(error)")
            }
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            throw CLIError.operational("the PostgreSQL store is not built yet; use sqlite:PATH for now")
        }
        throw CLIError.usage("--store \(url): unknown store; valid: sqlite:PATH (e.g. sqlite:uaef.db)")
    }
}

/// A command-line failure with the exit code it maps to.
enum CLIError: Error, CustomStringConvertible {
    /// Bad arguments or input files: exit 2.
    case usage(String)
    /// The environment failed (store, files): exit 3.
    case operational(String)

    var description: String {
        switch self {
        case .usage(let message), .operational(let message): message
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .operational: 3
        }
    }
}

/// Output helpers shared by the commands.
enum Console {
    static func printJSON(_ value: JSONValue) { print(value.prettyJSONText) }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    }

    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Reads a file as UTF-8 text, or fails with a usage error naming it.
    static func readFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError.usage("cannot read \(path): no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIError.usage("\(path) is not UTF-8 text") }
        return text
    }
}
