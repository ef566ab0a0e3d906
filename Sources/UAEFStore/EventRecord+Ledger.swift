import UAEFCore
import UAEFLedger

extension EventRecord {
    /// The event exactly as the ledger exports it and hashes it:
    /// `{"seq", "id", "time", "type", "actor", "tenant", "subject", "data"}`, payloads sealed
    /// into `data` as digests.
    public var ledgerObject: JSONValue {
        [
            "seq": .number(Number(Int(seq))), "id": .string(event.id), "time": .string(Timestamp.format(event.time)),
            "type": .string(event.type), "actor": .string(event.actor), "tenant": .string(event.tenant),
            "subject": .string(event.subject), "data": .object(EventPayloads.seal(event).data),
        ]
    }

    /// The RFC 8785 bytes of ``ledgerObject``, assembled around the already canonical bytes of
    /// `data` (the store keeps those as the event's data column, so they are written once).
    public func ledgerBytes(canonicalData: [UInt8]) -> [UInt8] {
        Self.ledgerBytes(
            seq: seq, id: event.id, time: Timestamp.format(event.time), type: event.type, actor: event.actor,
            tenant: event.tenant, subject: event.subject, canonicalData: canonicalData)
    }

    /// The RFC 8785 bytes of an event object from its stored fields, as a verifier reads them.
    public static func ledgerBytes(
        seq: Int64, id: String, time: String, type: String, actor: String, tenant: String, subject: String,
        canonicalData: [UInt8]
    ) -> [UInt8] {
        // Members in RFC 8785 order: actor, data, id, seq, subject, tenant, time, type.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(canonicalData.count + 192)
        bytes.append(contentsOf: #"{"actor":"#.utf8)
        CanonicalJSON.writeString(actor, to: &bytes)
        bytes.append(contentsOf: #","data":"#.utf8)
        bytes.append(contentsOf: canonicalData)
        bytes.append(contentsOf: #","id":"#.utf8)
        CanonicalJSON.writeString(id, to: &bytes)
        bytes.append(contentsOf: #","seq":"#.utf8)
        bytes.append(contentsOf: String(seq).utf8)
        bytes.append(contentsOf: #","subject":"#.utf8)
        CanonicalJSON.writeString(subject, to: &bytes)
        bytes.append(contentsOf: #","tenant":"#.utf8)
        CanonicalJSON.writeString(tenant, to: &bytes)
        bytes.append(contentsOf: #","time":"#.utf8)
        CanonicalJSON.writeString(time, to: &bytes)
        bytes.append(contentsOf: #","type":"#.utf8)
        CanonicalJSON.writeString(type, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// The leaf hash: SHA-256(0x00 ‖ RFC 8785 bytes of ``ledgerObject``).
    public var leafHash: MerkleHash {
        .leaf(ledgerBytes(canonicalData: EventPayloads.seal(event).canonicalData))
    }
}
