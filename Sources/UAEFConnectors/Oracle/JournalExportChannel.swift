import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore

/// A subscription of an `oracle` connector exporting settlements `as: journal`: each posted
/// settlement becomes one balanced General Ledger journal, imported through FBDI (Journal
/// Import), and the import's request id is recorded in the ledger beside the settlement
/// (`erp.document_created`, subject the settlement) once the import has succeeded.
///
/// A delivery goes through phases kept in its checkpoint, each written with a ledger event
/// (`oracle.journal_import.submitting`, `.submitted`, `.refused`, `.failed`) before the next
/// step, so a crash anywhere resumes where it stopped:
/// - **submitting**: the file is being sent. If the answer is lost, whether Oracle took it is
///   unknown: the delivery is dead at once, naming the interface group to look for in Oracle,
///   rather than risk booking the journal twice.
/// - **submitted**: the ESS request is polled on later attempts, which do not count against the
///   retry schedule (``DeliveryOutcome/waiting(retryAfter:)``), with a backoff from the export's
///   `poll_interval` up to a minute, for at most ``longestWait``.
/// - **imported**, with `erp.document_created` in the same transaction: a repeated delivery does
///   nothing more.
/// - **refused** or **failed** (the import ended in error, or took too long): the delivery is
///   dead. An operator's replay (`uaef deliveries replay`) is their word that the journal is not
///   in Oracle: the replayed delivery sends it again.
struct JournalExportChannel: DeliveryChannel {
    let store: any WorkflowStore
    let connector: ConnectorRecord
    let export: SettlementExport
    let scrubber: SecretScrubber
    let integrations: OracleIntegrations

    /// How long a delivery waits for its import to end before it is abandoned.
    static let longestWait = Duration.seconds(24 * 3600)
    /// The longest pause between two looks at a running import.
    static let longestPoll = Duration.seconds(60)

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        guard event.event.type == "settlement.posted" else { return .delivered(status: nil) }
        do {
            let (settlement, transfers) = try await SettlementExportChannel.settlement(
                of: event, connector: connector, store: store)
            let journal = try export.journal(for: settlement, transfers: transfers)
            let saved = try await store.deliveryCheckpoint(
                tenant: connector.tenant, connector: connector.name, id: delivery.id)
            // A replay after the checkpoint was written starts over.
            let checkpoint = saved.flatMap { delivery.isReplayed && $0.updatedAt < delivery.updatedAt ? nil : $0 }
            let job = Import(
                channel: self, delivery: delivery, settlement: settlement, journal: journal, logger: logger)
            guard let checkpoint else { return try await job.submit() }
            switch checkpoint.value["phase"]?.stringValue {
            case "submitted":
                return try await job.poll(
                    request: checkpoint.value["request_id"]?.stringValue ?? "",
                    waited: .milliseconds(Int64(Date().timeIntervalSince(checkpoint.updatedAt) * 1000)))
            case "imported":
                return .delivered(status: 200)
            case "submitting":
                return .abandoned(status: nil, error: job.unknownOutcome)
            default:
                let error = checkpoint.value["error"]?.stringValue ?? "the import did not succeed"
                return .abandoned(status: nil, error: "\(error); \(job.replayAdvice)")
            }
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async { await integrations.fusion.shutdown() }

    /// One delivery's import of one settlement's journal.
    private struct Import {
        let channel: JournalExportChannel
        let delivery: DeliveryRecord
        let settlement: SettlementRecord
        let journal: OracleJournal
        let logger: Logger

        var fileName: String { "GlInterface_\(journal.groupID).zip" }

        var replayAdvice: String {
            "if the journal (interface group \(journal.groupID), batch \(journal.batchName)) is not in Oracle, `uaef deliveries replay \(channel.connector.name) --id \(delivery.id)` imports it again"
        }

        var unknownOutcome: String {
            "oracle: \(fileName) was sent and Oracle's answer was lost, so whether the import started is unknown; check the Journal Import requests for interface group \(journal.groupID) in Oracle; \(replayAdvice)"
        }

        /// Sends the journal and records the ESS request it started.
        func submit() async throws -> DeliveryOutcome {
            try await save("submitting", [:])
            let request: String
            do {
                request = try await channel.integrations.importJournal(journal, fileName: fileName, logger: logger)
            } catch let failure as AgentFailure where !failure.retryable {
                // Refused (a 4xx, or ReqstId -1): nothing was started.
                let error = channel.scrubber.scrub(String(failure.message.prefix(1_000)))
                try await save("refused", ["error": .string(error)])
                return .abandoned(status: nil, error: "\(error); \(replayAdvice)")
            } catch {
                logger.error("the journal import's answer was lost", metadata: ["error": "\(error)"])
                return .abandoned(status: nil, error: unknownOutcome)
            }
            try await save("submitted", ["request_id": .string(request)])
            return .waiting(retryAfter: channel.export.pollInterval)
        }

        /// Looks at ESS `request`, submitted `waited` ago.
        func poll(request: String, waited: Duration) async throws -> DeliveryOutcome {
            let status = try await channel.integrations.status(of: request, logger: logger)
            if let succeeded = OracleJournalImportKind.finished[status] {
                guard succeeded else {
                    let log = await channel.integrations.readLog(of: request, logger: logger)
                    let error = channel.scrubber.scrub(
                        "oracle: Journal Import request \(request) (interface group \(journal.groupID)) ended \(status)"
                            + OracleIntegrations.ending(log))
                    try await save("failed", ["request_id": .string(request), "error": .string(error)])
                    return .abandoned(status: nil, error: "\(error); \(replayAdvice)")
                }
                try await save(
                    "imported",
                    [
                        "request_id": .string(request), "status": .string(status),
                        "batch_name": .string(journal.batchName), "lines": .number(Number(journal.lines.count)),
                    ], type: "erp.document_created")
                return .delivered(status: 200)
            }
            guard waited < JournalExportChannel.longestWait else {
                let error =
                    "oracle: Journal Import request \(request) (interface group \(journal.groupID)) was still \(status.isEmpty ? "unknown to ESS" : status) after \(DurationText.format(JournalExportChannel.longestWait))"
                try await save("failed", ["request_id": .string(request), "error": .string(error)])
                return .abandoned(status: nil, error: "\(error); \(replayAdvice)")
            }
            return .waiting(
                retryAfter: max(channel.export.pollInterval, min(waited / 4, JournalExportChannel.longestPoll)))
        }

        /// Replaces the delivery's checkpoint with `phase` and `value`, and records the ledger
        /// event `type` (by default `oracle.journal_import.` and the phase) in the same
        /// transaction.
        private func save(_ phase: String, _ value: [String: JSONValue], type: String? = nil) async throws {
            var value = value
            value["phase"] = .string(phase)
            value["document"] = "journal"
            value["group_id"] = .string(String(journal.groupID))
            value["file_name"] = .string(fileName)
            let event = SettlementExportChannel.event(
                type ?? "oracle.journal_import.\(phase)", data: value, delivery: delivery,
                connector: channel.connector, settlement: settlement)
            try await channel.store.saveTaskCheckpoint(
                .delivery(
                    tenant: channel.connector.tenant, connector: channel.connector.name, id: delivery.id,
                    value: .object(value), attempt: delivery.attempts + 1, updatedAt: event.time),
                event: event)
        }
    }
}
