import UAEFCore
import Yams

/// A template's `workflow:` section as a value: the YAML nodes with their styles and lines, kept
/// between uses and written out as a workflow's YAML once parameters are in place.
indirect enum TemplateNode: Sendable, Hashable {
    /// How a scalar was written, which decides how it reads (a plain `10` is a number, `"10"` text).
    enum Style: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// A scalar's text, with its plan when it reads parameters.
    case scalar(String, Style, line: Int?, plan: ParameterSubstitution.Plan? = nil)
    case sequence([TemplateNode], flow: Bool, line: Int?)
    case mapping([Entry], flow: Bool, line: Int?)

    /// A mapping's key (always text in a workflow) and value.
    struct Entry: Sendable, Hashable {
        var key: String
        var keyLine: Int?
        var value: TemplateNode
    }

    /// Converts a composed node of the document whose lines are `lines`; nil for an alias or a
    /// key that is not text, which workflows never hold.
    init?(_ node: Node, lines: [Substring]) {
        switch node {
        case .scalar(let scalar):
            // A text that does not parse has no plan; reading the template reports it.
            let plan = scalar.string.contains("${{") ? (try? ParameterSubstitution.Plan(scalar.string)) ?? nil : nil
            self = .scalar(scalar.string, Style(scalar.style), line: scalar.mark?.line, plan: plan)
        case .sequence(let sequence):
            var elements: [TemplateNode] = []
            for element in sequence {
                guard let converted = TemplateNode(element, lines: lines) else { return nil }
                elements.append(converted)
            }
            self = .sequence(elements, flow: Self.opens(sequence.mark, with: "[", in: lines), line: sequence.mark?.line)
        case .mapping(let mapping):
            var entries: [Entry] = []
            for pair in mapping {
                guard let key = pair.key.scalar?.string, let value = TemplateNode(pair.value, lines: lines) else {
                    return nil
                }
                entries.append(Entry(key: key, keyLine: pair.key.mark?.line, value: value))
            }
            self = .mapping(entries, flow: Self.opens(mapping.mark, with: "{", in: lines), line: mapping.mark?.line)
        case .alias:
            return nil
        }
    }

    /// Whether the collection starting at `mark` is written in flow style (`[a, b]`, `{a: 1}`),
    /// read from the text at the mark (line, then column in Unicode scalars, as libyaml counts):
    /// Yams (6.2) composes every collection with the style of its end event, which has none. Only
    /// the look of the workflow written depends on it.
    private static func opens(_ mark: Mark?, with bracket: Character, in lines: [Substring]) -> Bool {
        guard let mark, mark.line >= 1, mark.line <= lines.count, mark.column >= 1 else { return false }
        let line = lines[mark.line - 1].unicodeScalars
        guard mark.column <= line.count else { return false }
        return Character(line[line.index(line.startIndex, offsetBy: mark.column - 1)]) == bracket
    }

    /// A value as YAML nodes: text double-quoted (so `"true"` stays text), object keys sorted.
    init(_ value: JSONValue, line: Int?) {
        switch value {
        case .null: self = .scalar("null", .plain, line: line)
        case .bool(let bool): self = .scalar(bool ? "true" : "false", .plain, line: line)
        case .number(let number): self = .scalar(number.description, .plain, line: line)
        case .string(let string): self = .scalar(string, .doubleQuoted, line: line)
        case .array(let elements):
            self = .sequence(elements.map { TemplateNode($0, line: line) }, flow: false, line: line)
        case .object(let members):
            self = .mapping(
                members.keys.sorted().map {
                    Entry(key: $0, keyLine: line, value: TemplateNode(members[$0]!, line: line))
                },
                flow: false, line: line)
        }
    }

    /// The node for Yams to write.
    var yamsNode: Node {
        switch self {
        // Tags given, not left implicit: Yams resolves an implicit tag with regular expressions,
        // which took most of the time writing a workflow. Scalars are written without their tag
        // whatever it is, and a `!!map` or `!!seq` tag counts as implicit.
        case .scalar(let text, let style, _, _):
            return .scalar(Node.Scalar(text, Tag(.str), style.yams))
        case .sequence(let elements, let flow, _):
            return .sequence(Node.Sequence(elements.map(\.yamsNode), Tag(.seq), flow ? .flow : .block))
        case .mapping(let entries, let flow, _):
            let pairs = entries.map { (Node.scalar(Node.Scalar($0.key, Tag(.str), .plain)), $0.value.yamsNode) }
            return .mapping(Node.Mapping(pairs, Tag(.map), flow ? .flow : .block))
        }
    }
}

extension TemplateNode.Style {
    init(_ style: Node.Scalar.Style) {
        switch style {
        case .singleQuoted: self = .singleQuoted
        case .doubleQuoted: self = .doubleQuoted
        case .literal: self = .literal
        case .folded: self = .folded
        default: self = .plain
        }
    }

    var yams: Node.Scalar.Style {
        switch self {
        case .plain: .plain
        case .singleQuoted: .singleQuoted
        case .doubleQuoted: .doubleQuoted
        case .literal: .literal
        case .folded: .folded
        }
    }
}
