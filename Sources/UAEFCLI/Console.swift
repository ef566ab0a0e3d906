import ArgumentParser
import Foundation
import UAEFCore

/// Output helpers shared by the commands.
enum Console {
    static func printJSON(_ value: JSONValue) { print(value.prettyJSONText) }

    /// `text` followed by spaces up to `width` characters; longer text is kept whole, never cut.
    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Prints `{"valid": false, "errors": [{"file", "line", "field", "message"}]}`; the command then
    /// ends with exit code 2 (the error this returns, for the caller to throw).
    static func printInvalid(_ failure: ValidationFailure) -> ExitCode {
        printJSON([
            "valid": false,
            "errors": .array(
                failure.issues.map { issue in
                    [
                        "file": .string(issue.file), "line": issue.line.map { .number(Number($0)) } ?? .null,
                        "field": .string(issue.field), "message": .string(issue.message),
                    ]
                }),
        ])
        return ExitCode(2)
    }

    /// An option's value as one of a type's raw values; a usage error listing the valid ones otherwise.
    static func choice<Choice: RawRepresentable & CaseIterable>(
        _ value: String?, option: String, as type: Choice.Type
    ) throws -> Choice? where Choice.RawValue == String {
        guard let value else { return nil }
        guard let choice = Choice(rawValue: value) else {
            throw CLIError.usage(
                "\(option) \(value): valid: \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    /// Checks a list's `--limit`: a usage error naming the range unless it is from 1 to `maximum`.
    static func checkLimit(_ limit: Int, upTo maximum: Int) throws {
        guard (1...maximum).contains(limit) else { throw ValidationError("--limit must be from 1 to \(maximum)") }
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    }

    /// A problem the command goes on after, on standard error.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }

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
