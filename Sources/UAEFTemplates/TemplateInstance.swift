import UAEFCore
import Yams

/// A workflow made from a template: its YAML, ready to validate and register like any workflow file.
public struct TemplateInstance: Sendable {
    /// The workflow's name.
    public var workflowName: String
    /// Every parameter's value, defaults included.
    public var parameters: [String: JSONValue]
    /// The workflow definition (YAML), opening with a comment that names the template and the values.
    public var source: String
    /// `{"name", "version", "sha256", "parameters"}`: which template made it, recorded with the
    /// workflow's `workflow.registered` event.
    public var provenance: JSONValue
}

extension WorkflowTemplate {
    /// The most bytes a template's parameter values take together, as JSON.
    public static let maximumParameterBytes = 64 << 10
    /// The longest workflow a template makes, as the API's default body limit takes.
    public static let maximumWorkflowBytes = 1 << 20

    /// True when `source` is a workflow this template made (any version of it, any values): it
    /// opens with the comment ``instantiate(named:values:place:)`` writes.
    public func made(_ source: String) -> Bool {
        source.hasPrefix("# Made from workflow template \(name) version ")
    }

    /// Why registering what this template makes as workflow `name` would take over another
    /// workflow (its latest `version` has `source`, which this template did not make); nil when
    /// it would not. Callers say how to go ahead anyway.
    public func takeover(of name: String, version: Int, source: String) -> String? {
        made(source)
            ? nil : "workflow '\(name)' exists (version \(version)) and was not made from template \(self.name)"
    }

    /// Makes the workflow named `workflowName` (the template's name by default) from the template
    /// with `values` for its parameters (the others take their defaults). Every problem is reported
    /// together, each naming the parameter, with `place` (`--set`, `parameters`) as the file.
    /// The instance is not yet checked as a workflow: register or validate it as any workflow.
    public func instantiate(named workflowName: String? = nil, values: [String: JSONValue], place: String)
        throws(ValidationFailure) -> TemplateInstance
    {
        let workflowName = workflowName ?? name
        var issues: [ValidationIssue] = []
        func report(_ field: String, _ message: String) {
            issues.append(ValidationIssue(file: place, line: nil, field: field, message: message))
        }
        if !WorkflowParser.isValidName(workflowName) {
            report(
                "workflow", "\"\(workflowName.prefix(80))\" is not a workflow name; use \(WorkflowParser.namePattern)")
        }
        let unknown = values.keys.sorted().filter { parameter(named: $0) == nil }
        if !unknown.isEmpty {
            let declared = parameters.map(\.name).joined(separator: ", ")
            let named = unknown.prefix(10).map { "'\($0.prefix(80))'" }.joined(separator: ", ")
            let more = unknown.count > 10 ? " and \(unknown.count - 10) more" : ""
            report(
                unknown.count == 1 ? String(unknown[0].prefix(80)) : "",
                "unknown parameter\(unknown.count == 1 ? "" : "s") \(named)\(more); template \(name) declares: \(declared.isEmpty ? "none" : declared)"
            )
        }
        var resolved: [String: JSONValue] = [:]
        for parameter in parameters {
            guard let value = values[parameter.name] ?? parameter.defaultValue else {
                report(parameter.name, "required: \(parameter.description)")
                continue
            }
            if let violation = ValueLimits.check(value) {
                report(parameter.name, violation.description)
                continue
            }
            if ParameterSubstitution.holdsTemplate(value) {
                report(parameter.name, "text in a parameter may not hold ${{, which the run would read as a template")
                continue
            }
            for violation in JSONSchema(parameter.schema).violations(of: value, limit: 5) {
                report(parameter.name, violation)
            }
            resolved[parameter.name] = value
        }
        if JSONValue.object(resolved).jsonText.utf8.count > Self.maximumParameterBytes {
            report("", "the parameters' values take more than \(Self.maximumParameterBytes) bytes as JSON")
        }
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }

        var substitution = Substitution(parameters: resolved, file: origin)
        var body = substitution.apply(to: workflow, field: "workflow")
        guard substitution.issues.isEmpty else { throw ValidationFailure(issues: substitution.issues) }
        if case .mapping(let entries, let flow, let line) = body {
            let named = TemplateNode.Entry(
                key: "name", keyLine: line, value: TemplateNode(.string(workflowName), line: line))
            body = .mapping([named] + entries, flow: flow, line: line)
        }
        let yaml: String
        do {
            yaml = try Yams.serialize(node: body.yamsNode, indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: origin, line: nil, field: "workflow",
                    message: "could not write the workflow as YAML: \(error)")
            ])
        }
        let source = header(resolved) + yaml
        guard source.utf8.count <= Self.maximumWorkflowBytes else {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: place, line: nil, field: "",
                    message:
                        "the workflow made from these values takes \(source.utf8.count) bytes; at most \(Self.maximumWorkflowBytes) (long values read in many places multiply)"
                )
            ])
        }
        let provenance: JSONValue = [
            "name": .string(name), "version": .number(Number(version)), "sha256": .string(sha256),
            "parameters": .object(resolved),
        ]
        return TemplateInstance(
            workflowName: workflowName, parameters: resolved, source: source, provenance: provenance)
    }

    /// The comment the instance opens with: the template and each parameter's value, in ASCII so
    /// that no value can end the comment (YAML breaks lines at U+2028 and U+0085 too).
    private func header(_ values: [String: JSONValue]) -> String {
        var lines = ["# Made from workflow template \(name) version \(version) (sha256 \(sha256.prefix(16))...) with:"]
        for parameter in parameters {
            lines.append("#   \(parameter.name): \(Self.ascii(values[parameter.name]?.jsonText ?? "null"))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func ascii(_ text: String) -> String {
        var result = ""
        for unit in text.utf16 {
            if unit >= 0x20, unit < 0x7F {
                result.unicodeScalars.append(Unicode.Scalar(unit)!)
            } else {
                let hex = String(unit, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return result
    }
}

/// One pass replacing parameters through a template's workflow, collecting what fails.
private struct Substitution {
    let parameters: [String: JSONValue]
    let file: String
    var issues: [ValidationIssue] = []

    mutating func apply(to node: TemplateNode, field: String) -> TemplateNode {
        switch node {
        case .scalar(_, let style, let line, let plan):
            guard let plan else { return node }
            do {
                switch try plan.apply(parameters) {
                case .unchanged: return node
                case .value(let value): return TemplateNode(value, line: line)
                case .text(let replaced):
                    // Text stays text: quoted, unless the template wrote a block (`|`, `>`).
                    let kept: TemplateNode.Style = style == .literal || style == .folded ? style : .doubleQuoted
                    return .scalar(replaced, kept, line: line)
                }
            } catch {
                issues.append(ValidationIssue(file: file, line: line, field: field, message: error.description))
                return node
            }
        case .sequence(let elements, let flow, let line):
            return .sequence(
                elements.enumerated().map { apply(to: $1, field: "\(field)[\($0)]") }, flow: flow, line: line)
        case .mapping(let entries, let flow, let line):
            var replaced = entries
            for index in replaced.indices {
                replaced[index].value = apply(to: entries[index].value, field: "\(field).\(entries[index].key)")
            }
            return .mapping(replaced, flow: flow, line: line)
        }
    }
}
