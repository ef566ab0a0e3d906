import Foundation
import UAEFCore
import UAEFLedger

/// The compliance report of one run or one settlement: every event concerned with who, what and
/// when, the agent and attempt, digests of its data, input and output, and an inclusion proof
/// against a signed checkpoint, so someone who does not trust the operator can check it
/// (docs/verify_ledger.py shows how).
public struct LedgerReport: Sendable {
    /// What a report is about: its heading, its JSON header fields and the events it covers,
    /// found through the store's index of events by run: those of `tenant` whose subjects start
    /// with one of `subjects` (`id` or `id/…`), and the events at `seqs`.
    public struct Subject: Sendable {
        var title: String
        var summary: String
        var header: [String: JSONValue]
        var tenant: String
        var subjects: [String]
        var seqs: [Int64] = []
        var covers: @Sendable (EventRecord) -> Bool

        /// A run: every event about the run or one of its tasks.
        public static func run(_ run: RunRecord) -> Subject {
            let prefix = run.id.rawValue + "/"
            return Subject(
                title: "run \(run.id)",
                summary:
                    "Workflow **\(run.workflowName)** v\(run.workflowVersion), status **\(run.status.rawValue)**, created \(Timestamp.format(run.createdAt)).",
                header: [
                    "run_id": .string(run.id.rawValue), "workflow": .string(run.workflowName),
                    "status": .string(run.status.rawValue),
                ], tenant: run.tenant, subjects: [run.id.rawValue],
                covers: { record in
                    record.event.tenant == run.tenant
                        && (record.event.subject == run.id.rawValue || record.event.subject.hasPrefix(prefix))
                })
        }

        /// A settlement: the work that led to it (its run's events up to the trigger, or the
        /// signal), the trigger, and every event of the settlement through its posting.
        public static func settlement(_ settlement: SettlementRecord, trigger: EventRecord?) -> Subject {
            let run = trigger.map { String($0.event.subject.prefix { $0 != "/" }) }
            let isRunWork = trigger.map { $0.event.type.hasPrefix("task.") || $0.event.type.hasPrefix("run.") } ?? false
            let triggerSeq = settlement.triggerSeq
            return Subject(
                title: "settlement \(settlement.id)",
                summary:
                    "Rule **\(settlement.ruleID)**, **\(settlement.amount)**, status **\(settlement.status.rawValue)**, triggered by event \(triggerSeq) (\(trigger?.event.type ?? "?")).",
                header: [
                    "settlement_id": .string(settlement.id), "rule": .string(settlement.ruleID),
                    "status": .string(settlement.status.rawValue), "amount": .string(settlement.amount.decimalText),
                    "currency": .string(settlement.amount.currency.code),
                    "trigger_seq": .number(Number(Int(triggerSeq))),
                ], tenant: settlement.tenant, subjects: [settlement.id] + (isRunWork ? run.map { [$0] } ?? [] : []),
                seqs: [triggerSeq],
                covers: { record in
                    guard record.event.tenant == settlement.tenant else { return false }
                    if record.seq == triggerSeq || record.event.subject == settlement.id { return true }
                    guard isRunWork, let run, record.seq < triggerSeq else { return false }
                    return record.event.subject == run || record.event.subject.hasPrefix(run + "/")
                })
        }
    }

    public struct Entry: Sendable {
        var record: EventRecord
        var leaf: MerkleHash
        var proof: [MerkleHash]
    }

    var subject: Subject
    var checkpointNote: String
    var verifierKey: String
    var treeSize: Int
    var root: MerkleHash
    var entries: [Entry]

    /// Collects the subject's events and proves each against the newest checkpoint.
    /// The subject of a run's report, or nil when the tenant has no such run.
    public static func subject(run id: RunID, tenant: String, store: any WorkflowStore) async throws -> Subject? {
        try await store.run(id, tenant: tenant).map { .run($0) }
    }

    /// The subject of a settlement's report, or nil when the tenant has no such settlement.
    public static func subject(settlement id: String, tenant: String, store: any WorkflowStore) async throws -> Subject?
    {
        guard let (record, _, _) = try await store.settlement(id, tenant: tenant) else { return nil }
        let trigger = try await store.events(in: record.triggerSeq..<(record.triggerSeq + 1), tenant: tenant).first
        return .settlement(record, trigger: trigger)
    }

    public static func build(_ subject: Subject, store: any WorkflowStore, signer: NoteSigner) async throws
        -> LedgerReport
    {
        let note = try await Checkpointer(store: store, signer: signer).checkpoint()
        let checkpoint = try Checkpoint.open(note, verifier: signer.verifier)
        let size = Int64(checkpoint.size)
        // The candidates come through the index (the report's cost grows with its subject, not
        // with the log); `covers` decides, as it always did.
        var seqs = Set(subject.seqs.filter { $0 < size })
        for key in subject.subjects {
            var next: Int64 = 0
            while next < size {
                let page = try await store.runEvents(of: RunID(key), tenant: subject.tenant, from: next, limit: 1_000)
                guard let last = page.last else { break }
                seqs.formUnion(page.map(\.seq).filter { $0 < size })
                next = last.seq + 1
            }
        }
        // Their leaves are read a stretch of consecutive seqs at a time (a run's events mostly
        // lie together), not one event per read.
        var entries: [Entry] = []
        var pending = seqs.sorted()[...]
        while let start = pending.first {
            var count = 1
            while count < min(pending.count, 1_000), pending[pending.startIndex + count] == start + Int64(count) {
                count += 1
            }
            pending = pending.dropFirst(count)
            for (record, storedLeaf) in try await store.ledgerEvents(from: start, limit: count)
            where subject.covers(record) {
                guard let leaf = storedLeaf,
                    let proof = try await store.inclusionProof(index: Int(record.seq), size: checkpoint.size)
                else {
                    throw StoreCorruption(
                        location: "event \(record.seq)", reason: "it has no ledger leaf; run uaef ledger verify")
                }
                entries.append(Entry(record: record, leaf: leaf, proof: proof))
            }
        }
        return LedgerReport(
            subject: subject, checkpointNote: note, verifierKey: signer.verifier.text, treeSize: checkpoint.size,
            root: checkpoint.root, entries: entries)
    }

    private static func digest(_ value: JSONValue?) -> String? {
        value.map { ContentDigest.sha256(CanonicalJSON.bytes($0)) }
    }

    /// The payloads whose digests the report lists: the event data names them `<name>_sha256`.
    private static let payloadNames = ["inputs", "input", "output"]

    private static func payloadDigest(_ entry: Entry, _ name: String) -> String? {
        entry.record.event.data[EventPayloads.digestMember(name)]?.stringValue
    }

    private static func field(_ entry: Entry, _ name: String) -> String? {
        switch entry.record.event.data[name] {
        case .string(let text)?: text
        case .number(let number)?: number.description
        default: nil
        }
    }

    public var json: JSONValue {
        var value = subject.header
        value.merge([
            "tree_size": .number(Number(treeSize)), "root": .string(root.base64), "checkpoint": .string(checkpointNote),
            "verifier_key": .string(verifierKey),
            "events": .array(
                entries.map { entry in
                    var value: [String: JSONValue] = [
                        "index": .number(Number(Int(entry.record.seq))), "leaf_hash": .string(entry.leaf.base64),
                        "proof": .array(entry.proof.map { .string($0.base64) }), "event": entry.record.ledgerObject,
                        "data_sha256": .string(Self.digest(.object(entry.record.event.data)) ?? ""),
                    ]
                    for name in Self.payloadNames {
                        if let digest = Self.payloadDigest(entry, name) { value[name + "_sha256"] = .string(digest) }
                    }
                    return .object(value)
                }),
        ]) { _, new in new }
        return .object(value)
    }

    public var csv: String {
        var lines = ["index,time,type,actor,subject,agent,attempt,data_sha256,input_sha256,output_sha256,leaf_hash"]
        for entry in entries {
            let event = entry.record.event
            let cells = [
                String(entry.record.seq), Timestamp.format(event.time), event.type, event.actor, event.subject,
                Self.field(entry, "agent") ?? "", Self.field(entry, "attempt") ?? "",
                Self.digest(.object(event.data)) ?? "", Self.payloadDigest(entry, "input") ?? "",
                Self.payloadDigest(entry, "output") ?? "", entry.leaf.base64,
            ]
            lines.append(cells.map(Self.csvCell).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func csvCell(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public var markdown: String {
        var text = """
            # Compliance report: \(subject.title)

            \(subject.summary)

            Every event below is a leaf of the ledger's RFC 6962 Merkle tree. Each inclusion proof (in
            the JSON form of this report) leads to the root of the signed checkpoint:

            ```
            \(checkpointNote)```

            Verifier key: `\(verifierKey)` (tree size \(treeSize), root `\(root.base64)`).

            | index | time | event | actor | subject | agent | attempt | data SHA-256 | input SHA-256 | output SHA-256 |
            |---|---|---|---|---|---|---|---|---|---|

            """
        for entry in entries {
            let event = entry.record.event
            let cells = [
                String(entry.record.seq), Timestamp.format(event.time), event.type, event.actor, event.subject,
                Self.field(entry, "agent") ?? "", Self.field(entry, "attempt") ?? "",
                String((Self.digest(.object(event.data)) ?? "").prefix(16)),
                String((Self.payloadDigest(entry, "input") ?? "").prefix(16)),
                String((Self.payloadDigest(entry, "output") ?? "").prefix(16)),
            ]
            text += "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        return text
    }
}
