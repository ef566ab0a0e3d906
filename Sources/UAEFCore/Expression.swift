/// A parsed expression of the UAEF expression language (grammar: docs/expressions.md).
///
/// Expressions are pure: they read a context of values and compute one value. There are no
/// assignments, loops or calls outside a fixed set of functions, so evaluation always ends.
public indirect enum Expression: Sendable, Hashable {
    case literal(JSONValue)
    case list([Expression])
    case name(String)
    case member(Expression, String)
    case index(Expression, Expression)
    case unary(UnaryOperator, Expression)
    case binary(BinaryOperator, Expression, Expression)
    case call(Function, [Expression])

    /// Prefix operators.
    public enum UnaryOperator: String, Sendable, Hashable {
        case not = "!"
        case negate = "-"
    }

    /// Infix operators, loosest-binding last.
    public enum BinaryOperator: String, Sendable, Hashable {
        case multiply = "*"
        case divide = "/"
        case remainder = "%"
        case add = "+"
        case subtract = "-"
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
        case and = "&&"
        case or = "||"
    }

    /// The built-in functions.
    public enum Function: String, Sendable, Hashable, CaseIterable {
        case len, min, max, round, abs, contains, lower, upper
        case startsWith = "starts_with"

        /// How many arguments the function takes.
        var arity: ClosedRange<Int> {
            switch self {
            case .len, .abs, .lower, .upper: 1...1
            case .round: 1...2
            case .contains, .startsWith: 2...2
            case .min, .max: 1...Expression.maximumArguments
            }
        }
    }

    static let maximumArguments = 64

    /// Every path of names this expression reads from its context, e.g. `["tasks", "extract", "output"]`.
    ///
    /// A path stops at the first computed index; validation uses it to check references statically.
    public var referencedPaths: [[String]] {
        var paths: [[String]] = []
        collectPaths(into: &paths)
        return paths
    }

    private func collectPaths(into paths: inout [[String]]) {
        if let path = staticPath {
            paths.append(path)
            return
        }
        switch self {
        case .literal, .name: break
        case .list(let elements), .call(_, let elements):
            for element in elements { element.collectPaths(into: &paths) }
        case .member(let base, _): base.collectPaths(into: &paths)
        case .index(let base, let index):
            base.collectPaths(into: &paths)
            index.collectPaths(into: &paths)
        case .unary(_, let operand): operand.collectPaths(into: &paths)
        case .binary(_, let left, let right):
            left.collectPaths(into: &paths)
            right.collectPaths(into: &paths)
        }
    }

    private var staticPath: [String]? {
        switch self {
        case .name(let name): return [name]
        case .member(let base, let member): return base.staticPath.map { $0 + [member] }
        case .index(let base, .literal(.string(let key))): return base.staticPath.map { $0 + [key] }
        default: return nil
        }
    }
}
