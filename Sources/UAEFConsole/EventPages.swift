import Mustache
import UAEFStore

/// The pages of a run's or a task's events: a page lists a limited number of them from a sequence
/// number (`?events_from=`), and links to the first page and to the next.
public struct EventPages: Sendable, Equatable {
    /// The query parameter naming the first sequence number a page lists.
    public static let parameter = "events_from"

    /// The first page's link, when this page starts later.
    public var first: String?
    /// The next page's link, when there are events after this page's.
    public var next: String?
    /// What the page lists, when it is not all of the events.
    public var caption: String?

    /// The pages around the page of `path` that lists `events` from seq `from`: `events` were read
    /// with one more than `limit`, to tell whether more follow.
    init(path: String, from: Int64, events: [EventRecord], limit: Int) {
        first = from > 0 ? path + "#events" : nil
        let last = events.prefix(limit).last?.seq
        if events.count > limit, let last, last < Int64.max {
            next = "\(path)?\(Self.parameter)=\(last + 1)#events"
        }
        if first != nil || next != nil, let firstShown = events.first?.seq, let last {
            caption = "Events with seq \(firstShown) to \(last), \(limit) a page at most."
        } else if from > 0 {
            caption = "No events with seq \(from) or later."
        }
    }
}

extension EventPages: MustacheParent {
    public func child(named name: String) -> Any? {
        switch name {
        case "first": first
        case "next": next
        case "caption": caption
        default: nil
        }
    }
}
