import Foundation

/// An amount of one currency, held as a whole number of its minor unit (cents for EUR, yen
/// for JPY): never a binary floating-point number.
public struct Money: Sendable, Hashable, CustomStringConvertible {
    public var minorUnits: Int64
    public var currency: Currency

    public init(minorUnits: Int64, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// The amount in major units as exact decimal text with the currency's digits: `12.50`, `-0.05`, `1200` (JPY).
    public var decimalText: String { Self.decimalText(minorUnits: minorUnits, currency: currency) }

    /// Any number of `currency`'s minor units (sums wider than one amount too) as `decimalText`.
    public static func decimalText(minorUnits: some BinaryInteger, currency: Currency) -> String {
        let digits = currency.minorUnitDigits
        let magnitude = String(minorUnits.magnitude)
        let sign = minorUnits < 0 ? "-" : ""
        guard digits > 0 else { return sign + magnitude }
        let padded = String(repeating: "0", count: max(0, digits + 1 - magnitude.count)) + magnitude
        return sign + padded.dropLast(digits) + "." + padded.suffix(digits)
    }

    /// The amount in major units as an exact number.
    public var amount: Number {
        Number(minorUnits, powerOfTen: -currency.minorUnitDigits)
    }

    public var description: String { "\(decimalText) \(currency.code)" }

    /// Adds amounts of the same currency; a mixed sum is an error, never a conversion.
    public static func + (lhs: Money, rhs: Money) throws(MoneyError) -> Money {
        guard lhs.currency == rhs.currency else { throw .currencyMismatch(lhs.currency, rhs.currency) }
        let (sum, overflow) = lhs.minorUnits.addingReportingOverflow(rhs.minorUnits)
        guard !overflow else { throw .outOfRange }
        return Money(minorUnits: sum, currency: lhs.currency)
    }
}

/// Why an amount of money has no value.
public enum MoneyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Two currencies met in one computation.
    case currencyMismatch(Currency, Currency)
    /// Beyond ±9,223,372,036,854,775,807 minor units.
    case outOfRange

    public var description: String {
        switch self {
        case .currencyMismatch(let a, let b):
            "amounts in \(a) and \(b) cannot be combined; UAEF never converts currencies"
        case .outOfRange: "the amount is out of range (at most 9,223,372,036,854,775,807 minor units)"
        }
    }
}
