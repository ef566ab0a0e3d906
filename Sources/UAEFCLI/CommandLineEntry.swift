import ArgumentParser
import Foundation

/// Runs `uaef` with the process's arguments and exits with a code that means something:
/// 0 success, 1 a run that failed or was cancelled, 2 usage or validation errors.
public enum CommandLineEntry {
    /// Parses the arguments, runs the chosen command and exits.
    public static func main(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        do {
            var command = try UAEFCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch {
            let code = UAEFCommand.exitCode(for: error)
            let message = UAEFCommand.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // argument-parser reports usage errors as EX_USAGE (64); UAEF documents 2 for them.
            exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}
