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

    /// Writes the RFC 8785 bytes of an event object from its fields to `output`.
    public static func writeLedgerBytes(
        seq: Int64, id: String, time: String, type: String, actor: String, tenant: String, subject: String,
        canonicalData: [UInt8], to output: inout some CanonicalOutput
    ) {
        writeLedgerBytes(
            seq: seq, to: &output, data: { output in canonicalData.withUnsafeBytes { output.write($0) } },
            text: { field, output in
                let text = field.select(actor: actor, id: id, subject: subject, tenant: tenant, time: time, type: type)
                CanonicalJSON.writeString(text, to: &output)
            })
    }

    /// Writes the RFC 8785 bytes of an event object to `output`: `data` writes the canonical
    /// data, `text` a text member as a canonical string. Lets a store hash them straight from its
    /// column buffers.
    public static func writeLedgerBytes<Output: CanonicalOutput>(
        seq: Int64, to output: inout Output, data: (inout Output) -> Void, text: (TextField, inout Output) -> Void
    ) {
        func literal(_ text: StaticString) {
            output.write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        // Members in RFC 8785 order: actor, data, id, seq, subject, tenant, time, type.
        literal(#"{"actor":"#)
        text(.actor, &output)
        literal(#","data":"#)
        data(&output)
        literal(#","id":"#)
        text(.id, &output)
        literal(#","seq":"#)
        var seqText = String(seq)
        seqText.withUTF8 { output.write(UnsafeRawBufferPointer($0)) }
        literal(#","subject":"#)
        text(.subject, &output)
        literal(#","tenant":"#)
        text(.tenant, &output)
        literal(#","time":"#)
        text(.time, &output)
        literal(#","type":"#)
        text(.type, &output)
        output.write(byte: UInt8(ascii: "}"))
    }

    /// The leaf hash: SHA-256(0x00 ‖ RFC 8785 bytes of ``ledgerObject``).
    public var leafHash: MerkleHash { PreparedEvent(event, seq: seq).leaf }
}
