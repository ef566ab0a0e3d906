import Foundation
import UAEFCore
import UAEFStore

/// Builds the first write of a new run: its row and the `run.created` event.
public enum RunCreation {
    /// Parses `--input key=value` overrides: the value is JSON when it parses as JSON, else text.
    public static func parseOverrides(_ assignments: [String], definition: WorkflowDefinition) throws(ValidationFailure)
        -> [String: JSONValue]
    {
        var values: [String: JSONValue] = [:]
        var issues: [ValidationIssue] = []
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                issues.append(
                    ValidationIssue(file: "--input", line: nil, field: assignment, message: "expected key=value"))
                continue
            }
            let text = String(assignment[assignment.index(after: equals)...])
            values[String(assignment[..<equals])] = (try? JSONValue(jsonText: text)) ?? .string(text)
        }
        issues += inputIssues(values, definition: definition, place: "--input")
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }
        return values
    }

    /// Checks that every input given is one the workflow declares and within ``ValueLimits``;
    /// `place` names where they came from in the messages (e.g. `inputs` of a request body).
    public static func checkOverrides(_ values: [String: JSONValue], definition: WorkflowDefinition, place: String)
        throws(ValidationFailure)
    {
        let issues = inputIssues(values, definition: definition, place: place)
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }
    }

    private static func inputIssues(_ values: [String: JSONValue], definition: WorkflowDefinition, place: String)
        -> [ValidationIssue]
    {
        let declared = definition.inputs.keys.sorted().joined(separator: ", ")
        var issues: [ValidationIssue] = []
        for key in values.keys.sorted() {
            if definition.inputs[key] == nil {
                issues.append(
                    ValidationIssue(
                        file: place, line: nil, field: key,
                        message:
                            "unknown input '\(key)'; workflow \(definition.name) declares: \(declared.isEmpty ? "none" : declared)"
                    ))
            } else if let violation = ValueLimits.check(values[key] ?? .null) {
                issues.append(ValidationIssue(file: place, line: nil, field: key, message: violation.description))
            }
        }
        if issues.isEmpty, let violation = ValueLimits.check(.object(values)) {
            issues.append(ValidationIssue(file: place, line: nil, field: "", message: violation.description))
        }
        return issues
    }

    /// The changes that create a run of `definition` owned by `owner` (nil leaves it for any runner),
    /// in the trace of `traceParent` (by default the span active here, if any); `parent` names the
    /// run and task that start it as a child, at `depth` under the runs started otherwise.
    public static func changes(
        id: RunID, definition: WorkflowDefinition, file: String, overrides: [String: JSONValue], tenant: String,
        actor: String, owner: String?, leaseDuration: Duration, now: Date, random: inout SeededRandom,
        traceParent: String? = TraceContext.currentTraceParent(), parent: ChildOrigin? = nil
    ) -> ChangeSet {
        let inputs = definition.inputs.merging(overrides) { _, override in override }
        let run = RunRecord(
            id: id, tenant: tenant, workflowName: definition.name, workflowVersion: definition.version,
            workflowSource: definition.source, workflowFile: file, inputs: inputs, status: .pending, createdAt: now,
            updatedAt: now, owner: owner,
            leaseExpiresAt: owner.map { _ in now.addingTimeInterval(leaseDuration.timeInterval) },
            createdBy: actor, traceParent: traceParent, retriedBy: parent?.retriedBy, parent: parent?.link,
            depth: parent?.depth ?? 0)
        var data: [String: JSONValue] = [
            "workflow": .string(definition.name), "version": .number(Number(definition.version)),
        ]
        if let parent {
            data["parent_run"] = .string(parent.link.run.rawValue)
            data["parent_task"] = .string(parent.link.task)
            if parent.link.detached { data["parent_detached"] = true }
        }
        var changes = ChangeSet()
        changes.runs.append(run)
        changes.events.append(
            EventDraft(
                id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "run.created", actor: actor,
                tenant: tenant, subject: id.rawValue, data: data, payloads: ["inputs": .object(inputs)]))
        return changes
    }
}

/// The run a child run is started from (``RunParent``) and how deep the child nests.
public struct ChildOrigin: Sendable, Hashable {
    public var link: RunParent
    /// The child's depth: its parent's depth + 1.
    public var depth: Int
    /// Who retried the parent last (``RunRecord/retriedBy``): the child's approvals and
    /// settlements bar them as they bar its maker.
    public var retriedBy: String?

    public init(link: RunParent, depth: Int, retriedBy: String? = nil) {
        self.link = link
        self.depth = depth
        self.retriedBy = retriedBy
    }
}
