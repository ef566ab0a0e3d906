/// The limits every value meets where it enters UAEF: workflow and agent YAML, JSON request
/// bodies, run inputs from the CLI or the API, rendered task parameters and every agent's output.
///
/// The store reads stored JSON back with a deeper limit (``JSONTextParser/maximumDepth``, 256
/// levels) than the one enforced here, and events wrap a value in only a few levels, so whatever
/// is accepted can always be read back: one tenant's value can never make the event log
/// unreadable for everyone.
public enum ValueLimits {
    /// The deepest nesting of lists and objects in one value: 64 levels.
    public static let maximumDepth = 64
    /// The most bytes one value may take as JSON text: 16 MiB (the most any built-in agent reads
    /// back from its program or server).
    public static let maximumBytes = 16 << 20
    /// The most nodes (scalars, lists, mappings) a YAML document may hold once its aliases are
    /// expanded: 100,000, or its size in bytes when larger (more than a document without aliases
    /// can hold). A few hundred bytes of nested aliases ("billion laughs") would otherwise expand
    /// to gigabytes.
    public static let maximumYAMLNodes = 100_000

    /// Why a value is refused.
    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong and what would be valid.
        public let description: String
    }

    /// Checks depth and size, returning the first limit `value` breaks.
    public static func check(_ value: JSONValue) -> Violation? {
        var budget = maximumBytes
        return check(value, depth: 0, budget: &budget)
    }

    /// Walks `value`, counting its JSON text's bytes (within a few per scalar) into `budget`,
    /// and stops at the first limit broken.
    private static func check(_ value: JSONValue, depth: Int, budget: inout Int) -> Violation? {
        switch value {
        case .null, .bool: budget -= 5
        case .number(let number): budget -= number.smallInteger.map(digitCount) ?? 40
        case .string(let string): budget -= string.utf8.count + 2
        case .array(let elements):
            guard depth < maximumDepth else { return tooDeep }
            budget -= 2
            for element in elements {
                if let violation = check(element, depth: depth + 1, budget: &budget) { return violation }
            }
        case .object(let members):
            guard depth < maximumDepth else { return tooDeep }
            budget -= 2
            for (key, member) in members {
                budget -= key.utf8.count + 4
                if let violation = check(member, depth: depth + 1, budget: &budget) { return violation }
            }
        }
        guard budget >= 0 else {
            return Violation(description: "the value is larger than \(maximumBytes >> 20) MiB as JSON")
        }
        return nil
    }

    /// The characters of a small integer's text.
    private static func digitCount(_ value: Int) -> Int {
        var (count, rest) = (value < 0 ? 2 : 1, value.magnitude)
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }

    private static let tooDeep = Violation(
        description: "the value nests lists and objects deeper than \(maximumDepth) levels")
}
