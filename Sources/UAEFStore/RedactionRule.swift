import Foundation
import UAEFCore
import UAEFLedger

/// Which stored payloads a redaction erases and what its event records, decided once for both
/// backends (as ``LeaseRule`` decides leases): a backend only reads candidate rows of the
/// tenant and writes what this rule says.
public struct RedactionRule: Sendable {
    /// The subject the redaction covers: the run, or one of its tasks.
    public let scope: String

    /// The rule for a whole run, or for one task of it (its fan-out instances included).
    public init(run: RunID, task: String?) {
        scope = task.map { "\(run.rawValue)/\($0)" } ?? run.rawValue
    }

    /// True for the scope's own subject and those under it: `scope/…` (a run's tasks) and
    /// `scope[…]` (a task's fan-out instances). Backends select the run's events (through their
    /// index of events by run) and leave the exact decision here.
    public func covers(_ subject: String) -> Bool {
        subject == scope || subject.hasPrefix(scope + "/") || subject.hasPrefix(scope + "[")
    }

    /// What the `payload.redacted` event records of one event's erased payloads: `{seq, name, sha256}` each.
    public static func erased(seq: Int64, frame: UnsafeRawBufferPointer) throws -> [JSONValue] {
        guard let payloads = EventPayloads.unframe(frame) else {
            throw StoreCorruption(location: "events.payloads", reason: "event \(seq): not a payload frame")
        }
        return payloads.map { payload in
            [
                "seq": .number(Number(Int(seq))), "name": .string(payload.name),
                "sha256": .string(ContentDigest.sha256(payload.bytes)),
            ]
        }
    }

    /// The redaction's event with the digests it erased.
    public static func event(_ draft: EventDraft, erased: [JSONValue]) -> EventDraft {
        var event = draft
        event.data["erased"] = .array(erased)
        return event
    }
}
