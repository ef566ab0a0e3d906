import Testing
import UAEFCore

@Suite("Money and rounding")
struct MoneyTests {
    static let eur = Currency(code: "EUR")!
    static let jpy = Currency(code: "JPY")!
    static let kwd = Currency(code: "KWD")!

    @Test("ISO 4217 minor units: JPY 0, EUR and USD 2, KWD and BHD 3; unknown codes are refused")
    func currencies() {
        #expect(Currency(code: "JPY")?.minorUnitDigits == 0)
        #expect(Currency(code: "EUR")?.minorUnitDigits == 2)
        #expect(Currency(code: "USD")?.minorUnitDigits == 2)
        #expect(Currency(code: "KWD")?.minorUnitDigits == 3)
        #expect(Currency(code: "BHD")?.minorUnitDigits == 3)
        #expect(Currency(code: "CLF")?.minorUnitDigits == 4)
        #expect(Currency(code: "eur") == nil && Currency(code: "XXX") == nil && Currency(code: "HRK") == nil)
    }

    /// (amount, currency, mode, expected minor units).
    static let table: [(String, Currency, RoundingMode, Int64)] = [
        // Halves at two decimals, both signs.
        ("2.345", eur, .halfEven, 234), ("2.355", eur, .halfEven, 236), ("2.345", eur, .halfUp, 235),
        ("-2.345", eur, .halfEven, -234), ("-2.355", eur, .halfEven, -236), ("-2.345", eur, .halfUp, -235),
        ("2.345", eur, .down, 234), ("-2.345", eur, .down, -234), ("2.341", eur, .up, 235), ("-2.341", eur, .up, -235),
        ("2.349", eur, .floor, 234), ("-2.341", eur, .floor, -235), ("2.341", eur, .ceiling, 235),
        ("-2.349", eur, .ceiling, -234),
        // Not halves: nearest wins in both half modes.
        ("2.3451", eur, .halfEven, 235), ("2.3449", eur, .halfUp, 234), ("-2.3451", eur, .halfEven, -235),
        // Exact amounts are untouched by every mode.
        ("2.34", eur, .up, 234), ("-2.34", eur, .floor, -234), ("0", eur, .ceiling, 0),
        // Zero decimals.
        ("2.5", jpy, .halfEven, 2), ("3.5", jpy, .halfEven, 4), ("2.5", jpy, .halfUp, 3), ("-2.5", jpy, .halfUp, -3),
        ("-2.5", jpy, .halfEven, -2), ("1200.4", jpy, .ceiling, 1201), ("-1200.4", jpy, .floor, -1201),
        ("1200.9", jpy, .down, 1200),
        // Three decimals.
        ("1.0005", kwd, .halfEven, 1000), ("1.0015", kwd, .halfEven, 1002), ("1.0005", kwd, .halfUp, 1001),
        ("-1.0005", kwd, .up, -1001), ("1.0001", kwd, .down, 1000),
    ]

    @Test("every rounding mode at 0, 2 and 3 decimals, on halves and negative amounts", arguments: table)
    func rounding(amount: String, currency: Currency, mode: RoundingMode, expected: Int64) throws {
        #expect(try mode.minorUnits(of: Number(parsing: amount)!, in: currency) == expected)
    }

    @Test("amounts print in major units with the currency's digits, and mixed currencies never add")
    func formatting() throws {
        #expect(Money(minorUnits: 1250, currency: Self.eur).decimalText == "12.50")
        #expect(Money(minorUnits: -5, currency: Self.eur).decimalText == "-0.05")
        #expect(Money(minorUnits: 1200, currency: Self.jpy).decimalText == "1200")
        #expect(Money(minorUnits: 7, currency: Self.kwd).decimalText == "0.007")
        #expect(Money(minorUnits: 1250, currency: Self.eur).amount == Number(parsing: "12.5"))
        let sum = try Money(minorUnits: 1, currency: Self.eur) + Money(minorUnits: 2, currency: Self.eur)
        #expect(sum.minorUnits == 3)
        #expect(throws: MoneyError.currencyMismatch(Self.eur, Self.jpy)) {
            try Money(minorUnits: 1, currency: Self.eur) + Money(minorUnits: 1, currency: Self.jpy)
        }
        #expect(throws: MoneyError.outOfRange) {
            try Money(minorUnits: .max, currency: Self.eur) + Money(minorUnits: 1, currency: Self.eur)
        }
        #expect(throws: MoneyError.outOfRange) {
            try RoundingMode.halfEven.minorUnits(of: Number(parsing: "1e30")!, in: Self.eur)
        }
    }
}
