import Foundation

/// How an exact amount becomes a whole number of minor units.
public enum RoundingMode: String, Sendable, Hashable, CaseIterable {
    /// To the nearest; a tie goes to the even neighbour (banker's rounding). The default.
    case halfEven = "half_even"
    /// To the nearest; a tie goes away from zero.
    case halfUp = "half_up"
    /// Toward zero.
    case down
    /// Away from zero.
    case up
    /// Toward negative infinity.
    case floor
    /// Toward positive infinity.
    case ceiling

    /// `amount` (in major units) as a whole number of `currency`'s minor units.
    public func minorUnits(of amount: Number, in currency: Currency) throws(MoneyError) -> Int64 {
        let scale = Number(1, powerOfTen: currency.minorUnitDigits)
        let scaled: Number
        do { scaled = try amount * scale } catch { throw .outOfRange }
        let negative = scaled < Number(0)
        let magnitude = scaled.magnitude
        let whole = magnitude.truncated
        let fraction: Number
        do { fraction = try magnitude - whole } catch { throw .outOfRange }
        guard let units = whole.intValue.flatMap(Int64.init(exactly:)) else { throw .outOfRange }
        let half = Number(5, powerOfTen: -1)
        let awayFromZero: Bool =
            switch self {
            case .down: false
            case .up: fraction > Number(0)
            case .floor: negative && fraction > Number(0)
            case .ceiling: !negative && fraction > Number(0)
            case .halfUp: fraction >= half
            case .halfEven: fraction > half || (fraction == half && !units.isMultiple(of: 2))
            }
        let (rounded, overflow) = units.addingReportingOverflow(awayFromZero ? 1 : 0)
        guard !overflow else { throw .outOfRange }
        return negative ? -rounded : rounded
    }
}
