import Foundation

extension Expression {
    /// The longest string or list an expression may build.
    public static let maximumResultLength = 1_000_000

    /// Evaluates the expression against named values (`inputs`, `tasks`, `run`, `item`, `index`).
    ///
    /// A missing object member or list element reads as `null`; type mismatches, unknown names
    /// and arithmetic errors throw ``ExpressionError``.
    public func evaluate(in context: [String: JSONValue]) throws(ExpressionError) -> JSONValue {
        switch self {
        case .literal(let value):
            return value
        case .list(let elements):
            var values: [JSONValue] = []
            for element in elements { values.append(try element.evaluate(in: context)) }
            return .array(values)
        case .name(let name):
            guard let value = context[name] else {
                let known = context.keys.sorted().joined(separator: ", ")
                throw ExpressionError("unknown name '\(name)'; names available here: \(known)")
            }
            return value
        case .member(let base, let member):
            return try Expression.member(member, of: try base.evaluate(in: context))
        case .index(let base, let index):
            return try Expression.element(try index.evaluate(in: context), of: try base.evaluate(in: context))
        case .unary(.not, let operand):
            return .bool(!(try operand.evaluate(in: context)).isTruthy)
        case .unary(.negate, let operand):
            let value = try operand.evaluate(in: context)
            guard case .number(let number) = value else { throw ExpressionError("cannot negate a \(value.typeName)") }
            return .number(number.negated)
        case .binary(.and, let left, let right):
            guard try left.evaluate(in: context).isTruthy else { return .bool(false) }
            return .bool(try right.evaluate(in: context).isTruthy)
        case .binary(.or, let left, let right):
            if try left.evaluate(in: context).isTruthy { return .bool(true) }
            return .bool(try right.evaluate(in: context).isTruthy)
        case .binary(let op, let left, let right):
            return try Expression.apply(op, try left.evaluate(in: context), try right.evaluate(in: context))
        case .call(let function, let arguments):
            var values: [JSONValue] = []
            for argument in arguments { values.append(try argument.evaluate(in: context)) }
            return try Expression.call(function, values)
        }
    }

    private static func member(_ member: String, of value: JSONValue) throws(ExpressionError) -> JSONValue {
        switch value {
        case .object(let members): return members[member] ?? .null
        case .null: return .null
        default: throw ExpressionError("cannot read field '\(member)' of a \(value.typeName)")
        }
    }

    private static func element(_ index: JSONValue, of value: JSONValue) throws(ExpressionError) -> JSONValue {
        switch (value, index) {
        case (.null, _): return .null
        case (.object(let members), .string(let key)): return members[key] ?? .null
        case (.array(let elements), .number(let number)):
            guard let position = number.intValue else {
                throw ExpressionError("list index \(number) is not a whole number")
            }
            let resolved = position < 0 ? elements.count + position : position
            return elements.indices.contains(resolved) ? elements[resolved] : .null
        default:
            throw ExpressionError("cannot index a \(value.typeName) with a \(index.typeName)")
        }
    }

    private static func apply(_ op: BinaryOperator, _ left: JSONValue, _ right: JSONValue) throws(ExpressionError)
        -> JSONValue
    {
        switch op {
        case .equal: return .bool(left == right)
        case .notEqual: return .bool(left != right)
        case .less, .lessOrEqual, .greater, .greaterOrEqual: return .bool(try compare(op, left, right))
        case .add:
            switch (left, right) {
            case (.string(let a), .string(let b)):
                guard a.utf8.count + b.utf8.count <= maximumResultLength else { throw tooLong() }
                return .string(a + b)
            case (.array(let a), .array(let b)):
                guard a.count + b.count <= maximumResultLength else { throw tooLong() }
                return .array(a + b)
            default: break
            }
        default: break
        }
        guard case .number(let a) = left, case .number(let b) = right else {
            throw ExpressionError("cannot apply \(op.rawValue) to a \(left.typeName) and a \(right.typeName)")
        }
        do throws(NumberError) {
            switch op {
            case .add: return .number(try a + b)
            case .subtract: return .number(try a - b)
            case .multiply: return .number(try a * b)
            case .divide: return .number(try a / b)
            case .remainder: return .number(try a % b)
            default: break
            }
        } catch {
            throw ExpressionError(error.description)
        }
        throw ExpressionError("cannot apply \(op.rawValue) to numbers")
    }

    private static func tooLong() -> ExpressionError {
        ExpressionError("result longer than \(maximumResultLength) elements")
    }

    private static func compare(_ op: BinaryOperator, _ left: JSONValue, _ right: JSONValue) throws(ExpressionError)
        -> Bool
    {
        let ordering: Bool
        let equal: Bool
        switch (left, right) {
        case (.number(let a), .number(let b)): (ordering, equal) = (a < b, a == b)
        case (.string(let a), .string(let b)): (ordering, equal) = (a < b, a == b)
        default:
            throw ExpressionError("cannot compare a \(left.typeName) with a \(right.typeName) using \(op.rawValue)")
        }
        switch op {
        case .less: return ordering
        case .lessOrEqual: return ordering || equal
        case .greater: return !ordering && !equal
        default: return !ordering
        }
    }

    private static func call(_ function: Function, _ arguments: [JSONValue]) throws(ExpressionError) -> JSONValue {
        let name = function.rawValue
        switch (function, arguments.first ?? .null) {
        case (.len, .string(let string)): return .number(Number(string.count))
        case (.len, .array(let elements)): return .number(Number(elements.count))
        case (.len, .object(let members)): return .number(Number(members.count))
        case (.abs, .number(let number)): return .number(number.magnitude)
        case (.lower, .string(let string)): return .string(string.lowercased())
        case (.upper, .string(let string)): return .string(string.uppercased())
        case (.round, .number(let number)):
            var places = 0
            if arguments.count == 2 {
                guard case .number(let digits) = arguments[1], let whole = digits.intValue, (0...20).contains(whole)
                else {
                    throw ExpressionError("round's second argument must be a whole number of places from 0 to 20")
                }
                places = whole
            }
            return .number(number.rounded(scale: places, mode: .plain))
        case (.min, _), (.max, _):
            return try extreme(function, arguments.count == 1 ? (arguments[0].arrayValue ?? arguments) : arguments)
        case (.contains, .string(let string)):
            guard case .string(let part) = arguments[1] else {
                throw ExpressionError("contains on a string needs a string to look for, not a \(arguments[1].typeName)")
            }
            return .bool(string.contains(part))
        case (.contains, .array(let elements)): return .bool(elements.contains(arguments[1]))
        case (.contains, .object(let members)):
            guard case .string(let key) = arguments[1] else {
                throw ExpressionError("contains on an object needs a string key, not a \(arguments[1].typeName)")
            }
            return .bool(members[key] != nil)
        case (.startsWith, .string(let string)):
            guard case .string(let prefix) = arguments[1] else {
                throw ExpressionError("starts_with needs a string prefix, not a \(arguments[1].typeName)")
            }
            return .bool(string.hasPrefix(prefix))
        case (_, let first):
            throw ExpressionError("\(name) does not accept a \(first.typeName) (\(Self.signature(function)))")
        }
    }

    private static func extreme(_ function: Function, _ values: [JSONValue]) throws(ExpressionError) -> JSONValue {
        var best: JSONValue?
        for value in values {
            guard let current = best else {
                best = value
                continue
            }
            let isLess = try compare(.less, value, current)
            if isLess == (function == .min) { best = value }
        }
        guard let best else { throw ExpressionError("\(function.rawValue) of an empty list") }
        if case .number = best { return best }
        if case .string = best { return best }
        throw ExpressionError("\(function.rawValue) compares numbers or strings, not a \(best.typeName)")
    }

    private static func signature(_ function: Function) -> String {
        switch function {
        case .len: "len(string | list | object)"
        case .abs: "abs(number)"
        case .lower: "lower(string)"
        case .upper: "upper(string)"
        case .round: "round(number, places = 0)"
        case .min: "min(list) or min(a, b, ...)"
        case .max: "max(list) or max(a, b, ...)"
        case .contains: "contains(string | list | object, value)"
        case .startsWith: "starts_with(string, prefix)"
        }
    }
}
