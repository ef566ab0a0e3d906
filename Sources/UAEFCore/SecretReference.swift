/// The placeholder `{"$secret": "NAME"}` that names a tenant's secret in a workflow's `with` or an
/// agent's configuration; the `command` and `http` kinds replace it by the secret's value just
/// before an attempt runs.
///
/// Only text an author wrote may name a secret. Data (run inputs, other tasks' outputs, anything a
/// template renders) never may: otherwise a remote agent could return `{"$secret": "dbpass"}` and
/// have the value sent wherever a later task's body goes. ``ValueTemplate/render(in:)`` refuses such
/// data.
public enum SecretReference {
    /// The placeholder's one member.
    public static let member = "$secret"

    /// The secret's name when `value` is a placeholder.
    public static func name(in value: JSONValue) -> String? {
        guard case .object(let members) = value, members.count == 1 else { return nil }
        return members[member]?.stringValue
    }

    /// The names of the placeholders `value` is or holds at any depth, sorted, each once.
    public static func names(in value: JSONValue) -> [String] {
        func collect(_ value: JSONValue, into names: inout Set<String>) {
            if let name = name(in: value) {
                names.insert(name)
                return
            }
            switch value {
            case .object(let members): for member in members.values { collect(member, into: &names) }
            case .array(let elements): for element in elements { collect(element, into: &names) }
            default: break
            }
        }
        var names: Set<String> = []
        collect(value, into: &names)
        return names.sorted()
    }

    /// True when `value` is, or holds at any depth, a placeholder.
    public static func occurs(in value: JSONValue) -> Bool {
        switch value {
        case .object(let members): name(in: value) != nil || members.values.contains(where: occurs(in:))
        case .array(let elements): elements.contains(where: occurs(in:))
        default: false
        }
    }
}
