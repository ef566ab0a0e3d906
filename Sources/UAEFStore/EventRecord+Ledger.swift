import UAEFCore
import UAEFLedger

extension EventRecord {
    /// The event exactly as the ledger exports it and hashes it:
    /// `{"seq", "id", "time", "type", "actor", "tenant", "subject", "data"}`.
    public var ledgerObject: JSONValue {
        [
            "seq": .number(Number(Int(seq))), "id": .string(event.id), "time": .string(Timestamp.format(event.time)),
            "type": .string(event.type), "actor": .string(event.actor), "tenant": .string(event.tenant),
            "subject": .string(event.subject), "data": .object(event.data),
        ]
    }

    /// The RFC 8785 bytes of ``ledgerObject``, assembled around the already canonical bytes of
    /// `data` (the store keeps those as the event's data column, so they are written once).
    public func ledgerBytes(canonicalData: [UInt8]) -> [UInt8] {
        // Members in RFC 8785 order: actor, data, id, seq, subject, tenant, time, type.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(canonicalData.count + 192)
        bytes.append(contentsOf: #"{"actor":"#.utf8)
        CanonicalJSON.writeString(event.actor, to: &bytes)
        bytes.append(contentsOf: #","data":"#.utf8)
        bytes.append(contentsOf: canonicalData)
        bytes.append(contentsOf: #","id":"#.utf8)
        CanonicalJSON.writeString(event.id, to: &bytes)
        bytes.append(contentsOf: #","seq":"#.utf8)
        bytes.append(contentsOf: String(seq).utf8)
        bytes.append(contentsOf: #","subject":"#.utf8)
        CanonicalJSON.writeString(event.subject, to: &bytes)
        bytes.append(contentsOf: #","tenant":"#.utf8)
        CanonicalJSON.writeString(event.tenant, to: &bytes)
        bytes.append(contentsOf: #","time":"#.utf8)
        CanonicalJSON.writeString(Timestamp.format(event.time), to: &bytes)
        bytes.append(contentsOf: #","type":"#.utf8)
        CanonicalJSON.writeString(event.type, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// The leaf hash: SHA-256(0x00 ‖ RFC 8785 bytes of ``ledgerObject``).
    public var leafHash: MerkleHash {
        .leaf(ledgerBytes(canonicalData: CanonicalJSON.bytes(.object(event.data))))
    }
}
