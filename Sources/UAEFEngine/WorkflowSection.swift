import UAEFCore

/// A top-level section of workflow files that another module owns and checks, such as
/// settlement's `settlements:`. The engine validates it together with the workflow, so every
/// problem of both is reported at once; a workflow naming a section no registered module owns is
/// refused as an unknown key.
public protocol WorkflowSection: Sendable {
    /// The top-level key, e.g. `settlements`.
    var key: String { get }
    /// Every problem of the section in the workflow document `root` of `file`; none when it is
    /// absent or valid.
    func problems(in root: YAMLSource, file: String) -> [ValidationIssue]
}
