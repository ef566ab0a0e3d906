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
            "subject": .string(event.subject), "data": .object(EventPayloads.sealedData(event)),
        ]
    }

    /// The text members of the hashed event object other than `data` and `seq`.
    public enum TextField: Sendable {
        case actor, id, subject, tenant, time, type

        /// The one of these values that is this field's.
        public func select<Value>(
            actor: Value, id: Value, subject: Value, tenant: Value, time: Value, type: Value
        ) -> Value {
            switch self {
            case .actor: actor
            case .id: id
            case .subject: subject
            case .tenant: tenant
            case .time: time
            case .type: type
            }
        }
    }

    /// The RFC 8785 bytes of an event object from its stored fields, as a verifier reads them.
    public static func ledgerBytes(
        seq: Int64, id: String, time: String, type: String, actor: String, tenant: String, subject: String,
        canonicalData: [UInt8]
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(canonicalData.count + 192)
        writeLedgerBytes(
            seq: seq, to: &bytes, data: { $0.append(contentsOf: canonicalData) },
            text: { field, output in
                let text = field.select(actor: actor, id: id, subject: subject, tenant: tenant, time: time, type: type)
                CanonicalJSON.writeString(text, to: &output)
            })
        return bytes
    }

    /// Appends the RFC 8785 bytes of an event object to `output`: `data` appends the canonical
    /// data, `text` a text member as a canonical string. Lets a store assemble them straight from
    /// its column buffers.
    public static func writeLedgerBytes(
        seq: Int64, to output: inout [UInt8], data: (inout [UInt8]) -> Void,
        text: (TextField, inout [UInt8]) -> Void
    ) {
        // Members in RFC 8785 order: actor, data, id, seq, subject, tenant, time, type.
        output.append(contentsOf: #"{"actor":"#.utf8)
        text(.actor, &output)
        output.append(contentsOf: #","data":"#.utf8)
        data(&output)
        output.append(contentsOf: #","id":"#.utf8)
        text(.id, &output)
        output.append(contentsOf: #","seq":"#.utf8)
        output.append(contentsOf: String(seq).utf8)
        output.append(contentsOf: #","subject":"#.utf8)
        text(.subject, &output)
        output.append(contentsOf: #","tenant":"#.utf8)
        text(.tenant, &output)
        output.append(contentsOf: #","time":"#.utf8)
        text(.time, &output)
        output.append(contentsOf: #","type":"#.utf8)
        text(.type, &output)
        output.append(UInt8(ascii: "}"))
    }

    /// The leaf hash: SHA-256(0x00 ‖ RFC 8785 bytes of ``ledgerObject``).
    public var leafHash: MerkleHash { PreparedEvent(event, seq: seq).leaf }
}
