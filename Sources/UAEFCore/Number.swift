import Foundation

/// An exact decimal number: the only number type of workflow values and expressions.
///
/// Backed by `Foundation.Decimal` (38 significant digits), so `0.1 + 0.2 == 0.3` holds and no
/// binary floating point is ever involved. Arithmetic that leaves that range reports
/// ``NumberError`` instead of silently losing digits.
public struct Number: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The exact decimal value.
    public let decimal: Decimal
    /// The value when it was made from an integer of at most 15 digits (which a double holds
    /// exactly), so canonical JSON can print it without formatting the decimal.
    public let smallInteger: Int?

    private static let smallLimit = 999_999_999_999_999

    /// Wraps a decimal; callers pass finite values (arithmetic below rejects `NaN` results).
    public init(_ decimal: Decimal) {
        self.decimal = decimal
        smallInteger = nil
    }

    /// `significand` × 10^`exponent`, exactly (no arithmetic): `Number(Int64(1250), powerOfTen: -2)` is 12.50.
    public init(_ significand: Int64, powerOfTen exponent: Int) {
        decimal = Decimal(
            sign: significand < 0 ? .minus : .plus, exponent: exponent, significand: Decimal(significand.magnitude))
        smallInteger = exponent == 0 && significand.magnitude <= UInt64(Self.smallLimit) ? Int(significand) : nil
    }

    /// An integer as a number.
    public init(_ int: Int) {
        decimal = Decimal(int)
        smallInteger = abs(int) <= Self.smallLimit ? int : nil
    }

    public static func == (lhs: Number, rhs: Number) -> Bool { lhs.decimal == rhs.decimal }

    public func hash(into hasher: inout Hasher) { hasher.combine(decimal) }

    /// Parses plain decimal text such as `12`, `-0.25` or `1e3`; returns nil for anything else,
    /// including text with more than 38 significant digits (which would be rounded) or an exponent
    /// beyond what an exact decimal holds.
    public init?(parsing text: some StringProtocol) {
        let text = String(text)
        guard Number.isDecimalLiteral(text) else { return nil }
        let significant = Number.significantDigits(text)
        guard significant <= 38, let value = Decimal(string: text, locale: Number.posix),
            !value.isNaN, value.isZero == (significant == 0)
        else { return nil }
        decimal = value
        // Plain integer text of up to 15 digits keeps its Int too.
        let digits = text.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
        smallInteger =
            digits.count <= 15 && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            ? Int(text) : nil
    }

    /// The locale decimal text is read in, made once.
    private static let posix = Locale(identifier: "en_US_POSIX")

    /// The digits of a decimal literal between its first and last non-zero digit (0 for zero).
    static func significantDigits(_ text: String) -> Int {
        // Counted in one pass without copying: every JSON number goes through here.
        var (digits, first, last) = (0, -1, -1)
        for byte in text.utf8 {
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { break }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { continue }
            if byte != UInt8(ascii: "0") {
                if first < 0 { first = digits }
                last = digits
            }
            digits += 1
        }
        return first < 0 ? 0 : last - first + 1
    }

    /// True for `[-+]digits[.digits][e[-+]digits]` with at most three exponent digits.
    static func isDecimalLiteral(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "-" || scalars.first == "+" { scalars = scalars.dropFirst() }
        let digits = scalars.prefix { $0.properties.numericType != nil && $0.isASCII }
        guard !digits.isEmpty else { return false }
        scalars = scalars.dropFirst(digits.count)
        if scalars.first == "." {
            scalars = scalars.dropFirst()
            let fraction = scalars.prefix { $0.isASCII && $0.properties.numericType != nil }
            guard !fraction.isEmpty else { return false }
            scalars = scalars.dropFirst(fraction.count)
        }
        if scalars.first == "e" || scalars.first == "E" {
            scalars = scalars.dropFirst()
            if scalars.first == "-" || scalars.first == "+" { scalars = scalars.dropFirst() }
            let exponent = scalars.prefix { $0.isASCII && $0.properties.numericType != nil }
            guard !exponent.isEmpty, exponent.count <= 3 else { return false }
            scalars = scalars.dropFirst(exponent.count)
        }
        return scalars.isEmpty
    }

    /// The value as an `Int` when it is a whole number that fits, else nil.
    public var intValue: Int? {
        guard isWhole, decimal.magnitude <= Decimal(Int.max) else { return nil }
        return NSDecimalNumber(decimal: decimal).intValue
    }

    /// True when the number has no fractional part.
    public var isWhole: Bool { truncated == self }

    /// The canonical text: no exponent, no trailing zeros (`1.50` prints as `1.5`).
    public var description: String {
        // A small integer prints as itself, without formatting the decimal.
        if let smallInteger { return String(smallInteger) }
        var value = decimal
        NSDecimalCompact(&value)
        return value.description
    }

    public static func < (lhs: Number, rhs: Number) -> Bool { lhs.decimal < rhs.decimal }

    /// Rounds to `scale` digits after the point with a Foundation rounding mode.
    public func rounded(scale: Int, mode: NSDecimalNumber.RoundingMode) -> Number {
        var input = decimal
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, mode)
        return Number(result)
    }

    public static func + (lhs: Number, rhs: Number) throws(NumberError) -> Number {
        try exact(lhs, rhs, NSDecimalAdd, digitsNeeded: additionDigits)
    }

    public static func - (lhs: Number, rhs: Number) throws(NumberError) -> Number {
        try exact(lhs, rhs, NSDecimalSubtract, digitsNeeded: additionDigits)
    }

    public static func * (lhs: Number, rhs: Number) throws(NumberError) -> Number {
        try exact(lhs, rhs, NSDecimalMultiply) { $0.digits + $1.digits }
    }

    /// Division keeps 38 significant digits: `1 / 3` is `0.333…` to 38 digits, the one place a
    /// result is rounded (half to even).
    public static func / (lhs: Number, rhs: Number) throws(NumberError) -> Number {
        guard !rhs.decimal.isZero else { throw .divisionByZero }
        var (left, right, result) = (lhs.decimal, rhs.decimal, Decimal())
        switch NSDecimalDivide(&result, &left, &right, .bankers) {
        case .noError, .lossOfPrecision: return Number(result)
        case .divideByZero: throw .divisionByZero
        default: throw .outOfRange
        }
    }

    /// The remainder of truncating division; its sign follows the dividend, as in Swift and C.
    public static func % (lhs: Number, rhs: Number) throws(NumberError) -> Number {
        guard !rhs.decimal.isZero else { throw .divisionByZero }
        let quotient = try (lhs / rhs).truncated
        return try lhs - (quotient * rhs)
    }

    /// The whole part, rounded toward zero.
    public var truncated: Number {
        decimal < 0 ? magnitude.rounded(scale: 0, mode: .down).negated : rounded(scale: 0, mode: .down)
    }

    private typealias DecimalOperation = (
        UnsafeMutablePointer<Decimal>, UnsafePointer<Decimal>, UnsafePointer<Decimal>, NSDecimalNumber.RoundingMode
    ) -> NSDecimalNumber.CalculationError

    /// The most significant digits a `Decimal` holds exactly.
    static let maximumDigits = 38

    /// Applies an operation that must be exact. `digitsNeeded` bounds the digits of the exact
    /// result; past 38 the operation is refused rather than silently rounded (conservatively: a
    /// result that would just fit can be refused too).
    private static func exact(
        _ lhs: Number, _ rhs: Number, _ operation: DecimalOperation,
        digitsNeeded: (Shape, Shape) -> Int
    ) throws(NumberError) -> Number {
        // Everyday operands need no digit count: at most 15 significant digits with a power of ten
        // within ±10 give a sum of at most 36 digits and a product of at most 30.
        guard (lhs.isModest && rhs.isModest) || digitsNeeded(lhs.shape, rhs.shape) <= maximumDigits else {
            throw .outOfRange
        }
        var (left, right, result) = (lhs.decimal, rhs.decimal, Decimal())
        guard operation(&result, &left, &right, .plain) == .noError, !result.isNaN else { throw .outOfRange }
        return Number(result)
    }

    private static let modestSignificand = Decimal(999_999_999_999_999)

    /// At most 15 significant digits and a power of ten within ±10 (checked on the stored form,
    /// which may carry trailing zeros: a conservative test).
    private var isModest: Bool {
        (-10...10).contains(decimal.exponent) && decimal.significand.magnitude <= Self.modestSignificand
    }

    /// Significant digits and the power of ten of the last one: 12.50 is (3 digits, exponent -1).
    struct Shape {
        let digits: Int
        let exponent: Int
    }

    private var shape: Shape {
        var compacted = decimal
        NSDecimalCompact(&compacted)
        if compacted.isZero { return Shape(digits: 1, exponent: 0) }
        let digits = compacted.significand.magnitude.description.count
        return Shape(digits: digits, exponent: compacted.exponent)
    }

    /// Digits of a sum: aligned to the smaller exponent, the larger top digit, plus one for a carry.
    private static func additionDigits(_ a: Shape, _ b: Shape) -> Int {
        let low = Swift.min(a.exponent, b.exponent)
        return Swift.max(a.digits + a.exponent, b.digits + b.exponent) - low + 1
    }

    /// The negated value.
    public var negated: Number { Number(-decimal) }

    /// The absolute value.
    public var magnitude: Number { Number(decimal.magnitude) }
}

/// Why an arithmetic operation on ``Number`` has no result.
public enum NumberError: Error, Sendable, Equatable, CustomStringConvertible {
    case divisionByZero
    case outOfRange

    public var description: String {
        switch self {
        case .divisionByZero: "division by zero"
        case .outOfRange: "number out of range (more than 38 significant digits)"
        }
    }
}
