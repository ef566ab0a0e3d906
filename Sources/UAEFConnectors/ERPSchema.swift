import Foundation
import UAEFCore

/// The shape of a document an ERP creates (an SAP supplier invoice, an Oracle Payables
/// invoice): its entity types with their properties, which are mandatory, and how values go on
/// the wire. A task's document is checked against it before anything is sent, and every
/// problem is reported at once, each naming its property.
enum ERPSchema {
    /// How one property is typed.
    enum PropertyType: Sendable {
        /// Text of at most this many characters (UTF-16 code units, as ABAP and Oracle count).
        case string(Int)
        /// A decimal of `precision` digits, `scale` after the point, sent as text; an `amount`
        /// takes the document currency's decimals and is written with exactly that many.
        case decimal(precision: Int, scale: Int, amount: Bool)
        /// A day, given as `yyyy-MM-dd`, sent in the ERP's form.
        case date
        case boolean
    }

    /// An entity type's creatable properties, those mandatory on create, and its item lists.
    struct EntityType: Sendable {
        var name: String
        var properties: [String: PropertyType]
        var required: [String]
        /// Item list property → item type.
        var items: [String: EntityType] = [:]
    }

    /// How an ERP takes values.
    struct Wire: Sendable {
        /// The ERP's name in messages.
        var system: String
        /// The document's currency property, which gives amounts their decimals.
        var currencyProperty: String
        /// A day `yyyy-MM-dd` in the ERP's form; nil when it is not a calendar day.
        var date: @Sendable (String) -> String?
        /// An item list in the ERP's form.
        var collection: @Sendable ([JSONValue]) -> JSONValue
        /// A decimal type's name in messages, from its precision and scale.
        var decimal: @Sendable (Int, Int) -> String
        /// Added to the message for a number given where text is expected.
        var numberHint: String
    }

    /// The most items of one list.
    static let maximumItems = 999

    /// `value` (the task's `noun`, such as `invoice`) as `type`'s entity on the wire, or the
    /// problems found.
    static func document(_ value: JSONValue, as type: EntityType, noun: String, wire: Wire) -> (
        [String: JSONValue], [String]
    ) {
        guard let members = value.objectValue else {
            return ([:], ["\(noun): expected an object of \(type.name) properties"])
        }
        var problems: [String] = []
        let code = members[wire.currencyProperty]?.stringValue
        let currency = code.flatMap { Currency(code: $0) }
        if let code, currency == nil {
            problems.append(
                "\(noun).\(wire.currencyProperty): \(code.prefix(8).debugDescription) is not an ISO 4217 currency code")
        }
        let entity = encode(members, as: type, at: noun, currency: currency, wire: wire, problems: &problems)
        return (entity, problems)
    }

    /// `members` as `type`'s entity on the wire, with what is wrong added to `problems`.
    private static func encode(
        _ members: [String: JSONValue], as type: EntityType, at path: String, currency: Currency?, wire: Wire,
        problems: inout [String]
    ) -> [String: JSONValue] {
        var entity: [String: JSONValue] = [:]
        for name in type.required where members[name] == nil || members[name] == .null {
            problems.append("\(path).\(name): required for \(type.name)")
        }
        for (name, value) in members.sorted(by: { $0.key < $1.key }) {
            let field = "\(path).\(name)"
            if let itemType = type.items[name] {
                let list = value.arrayValue ?? value["results"]?.arrayValue
                guard let list, list.count <= maximumItems else {
                    problems.append("\(field): expected a list of at most \(maximumItems) \(itemType.name) items")
                    continue
                }
                var items: [JSONValue] = []
                for (index, item) in list.enumerated() {
                    guard let itemMembers = item.objectValue else {
                        problems.append("\(field)[\(index)]: expected an object of \(itemType.name) properties")
                        continue
                    }
                    items.append(
                        .object(
                            encode(
                                itemMembers, as: itemType, at: "\(field)[\(index)]", currency: currency, wire: wire,
                                problems: &problems)))
                }
                entity[name] = wire.collection(items)
                continue
            }
            guard let property = type.properties[name] else {
                problems.append(
                    "\(field): not a property UAEF creates on \(type.name)\(suggestion(for: name, in: type))")
                continue
            }
            if value == .null { continue }
            switch encode(value, as: property, currency: currency, wire: wire) {
            case .success(let encoded): entity[name] = encoded
            case .failure(let problem): problems.append("\(field): \(problem.text)")
            }
        }
        return entity
    }

    private static func suggestion(for name: String, in type: EntityType) -> String {
        let lower = name.lowercased()
        if let match = (Array(type.properties.keys) + Array(type.items.keys)).first(where: { $0.lowercased() == lower })
        {
            return " (property names are case-sensitive: \(match))"
        }
        return "; see docs/erp.md for the properties"
    }

    struct Problem: Error {
        var text: String
    }

    /// One value as `property` on the wire.
    static func encode(_ value: JSONValue, as property: PropertyType, currency: Currency?, wire: Wire) -> Result<
        JSONValue, Problem
    > {
        switch property {
        case .string(let length):
            guard let text = value.stringValue else {
                let hint = value.numberValue != nil ? wire.numberHint : ""
                return .failure(Problem(text: "expected text of at most \(length) characters\(hint)"))
            }
            guard text.utf16.count <= length else {
                return .failure(
                    Problem(text: "\(text.utf16.count) characters; \(wire.system) allows at most \(length)"))
            }
            guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .failure(Problem(text: "holds a control character"))
            }
            return .success(.string(text))
        case .date:
            guard let day = value.stringValue, let encoded = wire.date(day) else {
                return .failure(Problem(text: "expected a day as yyyy-MM-dd, such as 2026-11-30"))
            }
            return .success(.string(encoded))
        case .boolean:
            guard case .bool = value else { return .failure(Problem(text: "expected true or false")) }
            return .success(value)
        case .decimal(let precision, let scale, let isAmount):
            let number = value.numberValue ?? value.stringValue.flatMap { Number(parsing: $0) }
            guard let number else {
                return .failure(Problem(text: "expected a decimal number (as a number or as text such as \"1190.00\")"))
            }
            var decimals = scale
            if isAmount {
                guard let currency else {
                    return .failure(
                        Problem(text: "an amount needs the document's \(wire.currencyProperty) for its decimals"))
                }
                decimals = min(scale, currency.minorUnitDigits)
                guard number.rounded(scale: decimals, mode: .plain) == number else {
                    return .failure(
                        Problem(text: "\(number) has more decimals than \(currency.code)'s \(currency.minorUnitDigits)")
                    )
                }
            } else {
                guard number.rounded(scale: decimals, mode: .plain) == number else {
                    return .failure(Problem(text: "\(number) has more than \(decimals) decimals"))
                }
            }
            guard let digits = fixed(number, decimals: decimals), digits.filter(\.isNumber).count <= precision else {
                return .failure(
                    Problem(
                        text:
                            "\(number) does not fit \(wire.decimal(precision, scale)): at most \(precision - scale) whole digits"
                    ))
            }
            return .success(.string(isAmount ? digits : "\(number)"))
        }
    }

    /// `number` with exactly `decimals` digits after the point, as ERPs write amounts.
    static func fixed(_ number: Number, decimals: Int) -> String? {
        var scaled = number.decimal
        var power = Decimal(1)
        for _ in 0..<decimals { power *= 10 }
        scaled *= power
        let units = NSDecimalNumber(decimal: scaled).int64Value
        guard Decimal(units) == scaled else { return nil }
        let magnitude = String(units.magnitude)
        let padded = String(repeating: "0", count: max(0, decimals + 1 - magnitude.count)) + magnitude
        let whole = padded.dropLast(decimals)
        let fraction = padded.suffix(decimals)
        return (units < 0 ? "-" : "") + whole + (decimals > 0 ? "." + fraction : "")
    }
}

/// What is wrong with an ERP document, every problem naming its property.
struct ERPDocumentProblems: Error, CustomStringConvertible {
    var problems: [String]

    init(_ problems: [String]) { self.problems = problems }

    var description: String {
        problems.prefix(20).joined(separator: "; ")
            + (problems.count > 20 ? "; and \(problems.count - 20) more" : "")
    }
}
