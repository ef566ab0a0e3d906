/// An ISO 4217 currency: its code and how many decimal digits its minor unit has.
public struct Currency: Sendable, Hashable, CustomStringConvertible {
    /// The three-letter code, e.g. `EUR`.
    public let code: String
    /// Digits after the decimal point in the minor unit: 2 for EUR (cents), 0 for JPY, 3 for KWD.
    public let minorUnitDigits: Int

    /// The active ISO 4217 currency with this code (upper case), or nil.
    public init?(code: String) {
        guard let digits = Self.minorUnitDigits[code] else { return nil }
        self.code = code
        self.minorUnitDigits = digits
    }

    public var description: String { code }

    /// Every active ISO 4217 code (funds codes included, precious metals and testing codes not)
    /// with its minor unit, from the ISO 4217 list (amendment 179, 2025).
    static let minorUnitDigits: [String: Int] = {
        var table: [String: Int] = [:]
        let zero = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
        let three = "BHD IQD JOD KWD LYD OMR TND"
        let four = "CLF UYW"
        let two = """
            AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD \
            CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL \
            GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR \
            LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD \
            PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC \
            SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
            """
        for (codes, digits) in [(zero, 0), (two, 2), (three, 3), (four, 4)] {
            for code in codes.split(separator: " ") { table[String(code)] = digits }
        }
        return table
    }()
}
