/// One problem found while validating a file: where it is and what would be valid.
public struct ValidationIssue: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file (or `<input>` when read from elsewhere).
    public var file: String
    /// The 1-based line, when the parser knows it.
    public var line: Int?
    /// The field, as a path such as `tasks[2].retry.backoff` (empty for the whole document).
    public var field: String
    /// What is wrong and what would be valid.
    public var message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `file:line: field: message`.
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return field.isEmpty ? "\(location): \(message)" : "\(location): \(field): \(message)"
    }
}

/// Validation found problems; nothing was written. Carries every problem, not just the first.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public let issues: [ValidationIssue]

    public init(issues: [ValidationIssue]) { self.issues = issues }

    public var description: String {
        let noun = issues.count == 1 ? "problem" : "problems"
        return "\(issues.count) \(noun):\n" + issues.map { "  " + $0.description }.joined(separator: "\n")
    }
}
