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
        if let events = try bytes.withContiguousStorageIfAvailable({ try feed(contiguous: $0) }) { return events }
        return try Array(bytes).withUnsafeBufferPointer { try feed(contiguous: $0) }
    }

    /// Takes each line's bytes up to its end in one piece rather than byte by byte.
    private mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>) throws -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var position = bytes.startIndex
        if afterCarriageReturn, position < bytes.endIndex {
            afterCarriageReturn = false
            if bytes[position] == 0x0A { position += 1 }
        }
        while position < bytes.endIndex {
            var end = position
            while end < bytes.endIndex, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
            guard end - position <= lineLimit - line.count else { throw LineTooLong() }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[position..<end]))
            guard end < bytes.endIndex else { break }
            position = end + 1
            if let event = endLine() { events.append(event) }
            guard bytes[end] == 0x0D else { continue }
            if position == bytes.endIndex {
                afterCarriageReturn = true
            } else if bytes[position] == 0x0A {
                position += 1
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
