/// One event of a `text/event-stream`: its `event` name (`message` when unnamed) and its
/// `data` lines joined by line feeds.
public struct ServerSentEvent: Sendable, Hashable {
    public var event: String
    public var data: String

    public init(event: String = "message", data: String) {
        self.event = event
        self.data = data
    }
}

/// Parses a `text/event-stream` as it arrives, by the WHATWG HTML rules: lines end with CRLF,
/// LF or CR; a blank line dispatches the event; `:` starts a comment; `data` lines accumulate;
/// `id` and `retry` are read and ignored (a model stream is not resumed by id). A line longer
/// than its limit (``maximumLineBytes`` unless given) is an error rather than unbounded memory.
public struct ServerSentEventParser: Sendable {
    /// The longest line accepted: one `data` line carries one JSON event of a model's stream.
    public static let maximumLineBytes = 4 << 20
    /// The longest line this parser accepts.
    public let lineLimit: Int

    public struct LineTooLong: Error, CustomStringConvertible {
        public var description: String {
            "an event-stream line is longer than this reader accepts"
        }
    }

    private var line: [UInt8] = []
    private var afterCarriageReturn = false
    private var eventName = ""
    private var data: [String] = []
    private var hasData = false

    public init(lineLimit: Int = maximumLineBytes) { self.lineLimit = lineLimit }

    /// Feeds the next bytes; the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCarriageReturn {
                afterCarriageReturn = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0A, 0x0D:
                afterCarriageReturn = byte == 0x0D
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < lineLimit else { throw LineTooLong() }
                line.append(byte)
            }
        }
        return events
    }

    /// The stream ended: an event still waiting for its blank line is dropped, as the
    /// specification says.
    public mutating func finish() {
        self = ServerSentEventParser()
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else {
            defer {
                eventName = ""
                data = []
                hasData = false
            }
            guard hasData else { return nil }
            return ServerSentEvent(event: eventName.isEmpty ? "message" : eventName, data: data.joined(separator: "\n"))
        }
        if line[0] == 0x3A { return nil }
        let colon = line.firstIndex(of: 0x3A) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == 0x20 { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "event": eventName = value
        case "data":
            data.append(value)
            hasData = true
        default: break
        }
        return nil
    }
}
