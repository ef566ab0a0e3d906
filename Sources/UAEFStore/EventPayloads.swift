import UAEFCore
import UAEFLedger

/// Task inputs and outputs travel beside an event, not inside it. The ledger hashes only a
/// digest member `"<name>_sha256": "<hex SHA-256 of the payload's RFC 8785 bytes>"` in the event's
/// data; the payload itself is stored next to the event, so it can be erased later (a GDPR
/// request) while every leaf, tree head and proof still verifies. The erasure is an event itself.
public enum EventPayloads {
    /// The data member that carries the digest of payload `name`.
    public static func digestMember(_ name: String) -> String { name + "_sha256" }

    /// The payloads a sealed event stores beside it: name, canonical bytes and their digest.
    public struct Body: Sendable, Hashable {
        public var name: String
        public var bytes: [UInt8]
        /// Lower-case hex SHA-256 of `bytes`.
        public var sha256: String

        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
            sha256 = ContentDigest.sha256(bytes)
        }
    }

    /// An event as the ledger stores it: data with a digest member per payload, its canonical
    /// bytes, and the payload bodies to store beside it.
    public struct Sealed: Sendable {
        public var data: [String: JSONValue]
        public var canonicalData: [UInt8]
        public var bodies: [Body]
    }

    /// Seals an event: each payload is replaced in the data by its digest member.
    public static func seal(_ event: EventDraft) -> Sealed {
        guard !event.payloads.isEmpty else {
            return Sealed(data: event.data, canonicalData: CanonicalJSON.bytes(.object(event.data)), bodies: [])
        }
        var data = event.data
        var bodies: [Body] = []
        for name in event.payloads.keys.sorted() {
            let body = Body(name: name, bytes: CanonicalJSON.bytes(event.payloads[name]!))
            data[digestMember(name)] = .string(body.sha256)
            bodies.append(body)
        }
        return Sealed(data: data, canonicalData: CanonicalJSON.bytes(.object(data)), bodies: bodies)
    }

    /// True when `canonicalData` (an event's stored RFC 8785 data) commits to `body`: it holds
    /// the member `"<name>_sha256":"<hex>"` at its top level. Canonical strings escape every
    /// quote, so those bytes cannot occur inside a string value, and the engine never nests
    /// objects with such members in event data.
    public static func commits(_ canonicalData: [UInt8], to name: String, sha256: String) -> Bool {
        var member: [UInt8] = []
        CanonicalJSON.writeString(digestMember(name), to: &member)
        member.append(UInt8(ascii: ":"))
        CanonicalJSON.writeString(sha256, to: &member)
        return canonicalData.firstRange(of: member) != nil
    }
}
