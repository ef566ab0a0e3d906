import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStoreSQLite

/// Runs `uaef` with the process's arguments and exits with a code that means something:
/// 0 success, 1 a run that failed or was cancelled, 2 usage or validation errors.
public enum CommandLineEntry {
    /// Undoes what a parent may have left blocked: a process started from a thread that blocks
    /// SIGINT and SIGTERM (Swift concurrency's and Dispatch's threads do) inherits that mask, and
    /// would then never hear Ctrl-C or a stop request. Call first, on the main thread.
    public static func prepareProcess() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    /// The arguments of this process: those given, after `lambda` when the binary is named
    /// `bootstrap` (as a Lambda custom runtime's must be).
    public static var processArguments: [String] {
        let given = Array(CommandLine.arguments.dropFirst())
        let name = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }
        return name == "bootstrap" ? ["lambda"] + given : given
    }

    /// Parses the arguments, runs the chosen command and exits.
    public static func main(arguments: [String] = processArguments) async -> Never {
        do {
            var command = try UAEFCommand.parseAsRoot(arguments)
            try await Telemetry.withTracing(environment: ProcessInfo.processInfo.environment) {
                if var asyncCommand = command as? any AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            }
            finish(0)
        } catch let failure as ValidationFailure {
            FileHandle.standardError.write(Data(("error: " + failure.description + "\n").utf8))
            finish(2)
        } catch let refusal as Refusal {
            Console.error(refusal.description)
            finish(2)
        } catch let failure as CLIError {
            Console.error(failure.description)
            finish(failure.exitCode)
        } catch let error as ExitCode {
            finish(error.rawValue)
        } catch {
            let code = UAEFCommand.exitCode(for: error)
            if code == .failure {
                // Not an argument error: the store, the file system or the network failed.
                Console.error("\(error)")
                finish(3)
            }
            let message = UAEFCommand.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                finish(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // argument-parser reports usage errors as EX_USAGE (64); UAEF documents 2 for them.
            finish(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    /// Exits with `code` once this process's SQLite stores hold their commits in their database
    /// files, not only in their logs.
    private static func finish(_ code: Int32) -> Never {
        SQLiteStore.checkpointOpenStores()
        exit(code)
    }
}
