import Foundation
import UAEFCore

/// OData Version 2.0 as SAP Gateway speaks it in JSON: literals in URLs, `Edm.DateTime` values,
/// and error bodies.
///
/// References: OData V2 URI Conventions §5.1.2 (literal forms: `'text'` with `''` for a quote,
/// `datetime'2024-01-31T00:00:00'`), OData V2 JSON Format §2.2.6.1 (`Edm.DateTime` as
/// `"\/Date(<milliseconds since 1970>)\/"`, `Edm.Decimal` as a string), and SAP Gateway's error
/// document (`error.code`, `error.message.value`, `error.innererror.errordetails`).
enum ODataV2 {
    /// `text` as a string literal in a URL: quoted, each quote doubled.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// The day `yyyy-MM-dd` as a `datetime` literal in a URL, at midnight.
    static func dateTimeLiteral(_ day: String) -> String { "datetime'\(day)T00:00:00'" }

    /// The day `yyyy-MM-dd` as an `Edm.DateTime` JSON value, `/Date(ms)/` at midnight UTC; nil
    /// when it is not a valid calendar day.
    static func jsonDate(_ day: String) -> String? {
        guard let date = Self.date(day) else { return nil }
        return "/Date(\(Int64(date.timeIntervalSince1970) * 1000))/"
    }

    /// The day of an `Edm.DateTime` JSON value (`/Date(ms)/`, with or without an offset), UTC.
    static func day(fromJSON text: String) -> String? {
        guard text.hasPrefix("/Date("), text.hasSuffix(")/") else { return nil }
        let inner = text.dropFirst(6).dropLast(2)
        let digits = inner.prefix { $0 == "-" || $0.isNumber }
        guard let milliseconds = Int64(digits) else { return nil }
        return String(Timestamp.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000)).prefix(10))
    }

    /// `yyyy-MM-dd` as midnight UTC, if it is a real calendar day.
    static func date(_ day: String) -> Date? {
        let parts = day.split(separator: "-", omittingEmptySubsequences: false)
        guard day.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let dayOfMonth = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: dayOfMonth)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date
    }

    /// A query string from `pairs`, each name and value percent-encoded as RFC 3986 query text
    /// (OData's `$`, `'`, `(`, `)`, `,` and `:` kept; spaces and everything else encoded).
    static func query(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<"\u{80}"))
        allowed.insert(charactersIn: "-._~$'(),:")
        return pairs.map { name, value in
            let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
            return "\(name)=\(encoded)"
        }.joined(separator: "&")
    }

    /// What an OData service said went wrong.
    struct ServiceError: Sendable, CustomStringConvertible {
        var status: Int
        /// The message class and number, e.g. `M8/082`; empty when the body held no error.
        var code: String
        var message: String
        /// The messages of `innererror.errordetails` other than the main one.
        var details: [String]

        var description: String {
            var text = "HTTP \(status)"
            if !code.isEmpty { text += " \(code)" }
            text += ": \(message)"
            if !details.isEmpty { text += " (" + details.joined(separator: "; ") + ")" }
            return text
        }

        /// 429 and 5xx may pass; any other 4xx will not.
        var retryable: Bool { status == 429 || status >= 500 }

        /// The error `body` (answered with `status`) describes, or one naming only the status
        /// when the body is not an OData error (a proxy's HTML page, say).
        init(status: Int, body: String) {
            self.status = status
            let error = (try? JSONValue(jsonText: body))?["error"]
            code = error?["code"]?.stringValue ?? ""
            let main = error?["message"]?["value"]?.stringValue ?? error?["message"]?.stringValue
            message = main.map { String($0.prefix(500)) } ?? Self.statusText(status, body: body)
            var details: [String] = []
            for detail in error?["innererror"]?["errordetails"]?.arrayValue ?? [] {
                guard let text = detail["message"]?.stringValue, text != main, !details.contains(text) else { continue }
                details.append(String(text.prefix(500)))
            }
            self.details = Array(details.prefix(10))
        }

        private static func statusText(_ status: Int, body: String) -> String {
            let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("<") else {
                return "the service answered without an OData error"
            }
            return String(trimmed.prefix(200))
        }
    }
}
