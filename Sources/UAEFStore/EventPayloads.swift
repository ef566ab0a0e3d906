import Foundation
import UAEFCore
import UAEFLedger

/// Task inputs and outputs travel beside an event, not inside it. The ledger hashes only a
/// digest member `"<name>_sha256": "<hex SHA-256 of the payload's RFC 8785 bytes>"` in the event's
/// data; the payload itself is stored next to the event, so it can be erased later (a GDPR
/// request) while every leaf, tree head and proof still verifies. The erasure is an event itself.
public enum EventPayloads {
    /// The data member that carries the digest of payload `name`.
    public static func digestMember(_ name: String) -> String { name + digestSuffix }

    private static let digestSuffix = "_sha256"

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

    /// An event as the ledger stores it: the canonical bytes of its data with a digest member
    /// per payload, and the payload bodies to store beside it.
    public struct Sealed: Sendable {
        public var canonicalData: [UInt8]
        public var bodies: [Body]
    }

    /// Seals an event: each payload is replaced in the data by its digest member.
    public static func seal(_ event: EventDraft) -> Sealed {
        let bodies = event.payloads.map { Body(name: $0.key, bytes: CanonicalJSON.bytes($0.value)) }
        var members = Array(event.data)
        // A stored event read back already holds the digest members: they are recomputed, not doubled.
        if !bodies.isEmpty { members.removeAll { member in bodies.contains { digestMember($0.name) == member.key } } }
        members += bodies.map { (digestMember($0.name), .string($0.sha256)) }
        var canonicalData: [UInt8] = []
        CanonicalJSON.writeObject(members, to: &canonicalData)
        return Sealed(canonicalData: canonicalData, bodies: bodies)
    }

    /// The event's data as the ledger hashes it: with a digest member per payload.
    public static func sealedData(_ event: EventDraft) -> [String: JSONValue] {
        var data = event.data
        for body in seal(event).bodies { data[digestMember(body.name)] = .string(body.sha256) }
        return data
    }

    /// The stored form of an event's payloads, one column beside the event: per payload (sorted
    /// by name) `<name>\n<byte count>\n<RFC 8785 bytes>`, so a verifier hashes each payload's
    /// bytes as stored without parsing JSON.
    public static func frame(_ bodies: [Body]) -> [UInt8]? {
        guard !bodies.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for body in bodies.sorted(by: { $0.name < $1.name }) {
            bytes.append(contentsOf: body.name.utf8)
            bytes.append(0x0A)
            bytes.append(contentsOf: String(body.bytes.count).utf8)
            bytes.append(0x0A)
            bytes.append(contentsOf: body.bytes)
        }
        return bytes
    }

    /// The payloads in a stored frame: name and RFC 8785 bytes; nil when the frame is malformed.
    public static func unframe(_ frame: UnsafeRawBufferPointer) -> [(name: String, bytes: [UInt8])]? {
        var payloads: [(name: String, bytes: [UInt8])] = []
        let wellFormed = forEachFramed(frame) { name, bytes in
            payloads.append((String(decoding: name, as: UTF8.self), Array(bytes)))
        }
        return wellFormed ? payloads : nil
    }

    /// Calls `body` with each payload's name and bytes in a stored frame, as views into it, in
    /// order; false when the frame is malformed (payloads before the fault were passed on).
    public static func forEachFramed(
        _ frame: UnsafeRawBufferPointer,
        _ body: (_ name: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> Bool {
        var cursor = 0
        func line() -> UnsafeRawBufferPointer? {
            guard let end = frame[cursor...].firstIndex(of: 0x0A) else { return nil }
            defer { cursor = end + 1 }
            return UnsafeRawBufferPointer(rebasing: frame[cursor..<end])
        }
        while cursor < frame.count {
            guard let name = line(), let countText = line(), let count = decimal(countText),
                count <= frame.count - cursor
            else { return false }
            try body(name, UnsafeRawBufferPointer(rebasing: frame[cursor..<(cursor + count)]))
            cursor += count
        }
        return true
    }

    /// A byte count written in decimal digits (at most 18); nil for anything else.
    private static func decimal(_ text: UnsafeRawBufferPointer) -> Int? {
        guard !text.isEmpty, text.count <= 18 else { return nil }
        var value = 0
        for digit in text {
            guard (0x30...0x39).contains(digit) else { return nil }
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }

    /// True when `canonicalData` (an event's stored RFC 8785 data, or the whole event) commits to
    /// the payload `body`: it holds the member `"<name>_sha256":"<hex SHA-256 of body>"`.
    /// Canonical strings escape every quote, so those bytes cannot occur inside a string value,
    /// and the engine never nests objects with such members in event data.
    public static func commits(_ canonicalData: [UInt8], to name: String, body: [UInt8]) -> Bool {
        var member: [UInt8] = []
        var name = name
        return name.withUTF8 { name in
            canonicalData.withUnsafeBytes { data in
                body.withUnsafeBytes { body in
                    commits(data, toPayloadNamed: UnsafeRawBufferPointer(name), body: body, scratch: &member)
                }
            }
        }
    }

    /// ``commits(_:to:body:)`` over buffers, building the member in `scratch` (whose capacity a
    /// caller checking millions of events keeps from one call to the next).
    public static func commits(
        _ canonicalData: UnsafeRawBufferPointer, toPayloadNamed name: UnsafeRawBufferPointer,
        body: UnsafeRawBufferPointer, scratch member: inout [UInt8]
    ) -> Bool {
        member.removeAll(keepingCapacity: true)
        CanonicalJSON.writeString(utf8: name, to: &member)
        // The closing quote moves after the suffix, which needs no escape.
        member.removeLast()
        member.append(contentsOf: digestSuffix.utf8)
        member.append(contentsOf: #"":""#.utf8)
        ContentDigest.appendSHA256Hex(of: body, to: &member)
        member.append(UInt8(ascii: "\""))
        return member.withUnsafeBytes { contains(canonicalData, $0) }
    }

    /// Whether `needle` occurs in `haystack`: a byte loop, as event data is a few hundred bytes.
    private static func contains(_ hay: UnsafeRawBufferPointer, _ pin: UnsafeRawBufferPointer) -> Bool {
        guard let first = pin.first, hay.count >= pin.count else { return false }
        for start in 0...(hay.count - pin.count)
        where hay[start] == first && memcmp(hay.baseAddress! + start, pin.baseAddress!, pin.count) == 0 {
            return true
        }
        return false
    }
}
