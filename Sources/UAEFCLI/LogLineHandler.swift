import Foundation
import Logging
import UAEFCore

/// Log lines on standard error, one per event, in either of two formats:
/// - `json`: `{"time", "level", "label", "message", …metadata}` (what log shippers and `jq` read);
/// - `text`: `<time> <level> <label>: [key=value …] <message>`, keys sorted.
///
/// Metadata is kept as given and formatted only when a line is written: the server sets a
/// request's id, tenant and subject on every request, mostly without logging anything.
struct LogLineHandler: LogHandler {
    enum Format {
        case json, text
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let time = Timestamp.format(Date())
        let merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        let line: String
        switch format {
        case .json:
            var object: [String: JSONValue] = [
                "time": .string(time), "level": .string(event.level.rawValue), "label": .string(label),
                "message": .string(event.message.description),
            ]
            for (key, value) in merged { object[key] = Self.json(value) }
            line = JSONValue.object(object).jsonText
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let context = fields.isEmpty ? "" : "[" + fields.joined(separator: " ") + "] "
            line = "\(time) \(event.level.rawValue) \(label): \(context)\(event.message)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let value): .string(value.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let members): .object(members.mapValues(json))
        }
    }
}
