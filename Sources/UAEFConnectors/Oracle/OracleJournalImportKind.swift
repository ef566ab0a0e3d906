import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore
import UAEFZip

/// The task kind `oracle.journal.import`: imports a journal into Oracle General Ledger through
/// FBDI and waits for the import, as one task that survives a restart while it waits.
///
/// The journal (`journal`: ledger, source, category, currency, accounting date, lines of account,
/// debit or credit) is checked and written as `GlInterface.csv` in a zip, posted to
/// `erpintegrations` (`importBulkData` with the Journal Import job and its `ParameterList`), and
/// the ESS request it starts is polled (`finder=ESSJobStatusRF`) with backoff until it ends.
/// Once it ends, its log (`downloadESSJobExecutionDetails`) is read into the ledger event
/// `oracle.journal_import.log` (the log a payload, erasable by redaction, its digest in the
/// ledger), and a failed import's error ends with the log's last lines.
/// The request id is a task checkpoint (with the ledger event `oracle.journal_import.submitted`)
/// written before any waiting: a retried or resumed attempt polls that request instead of
/// importing the journal twice. An attempt that stopped between sending the import and
/// recording its request id cannot know whether Oracle took it: the next attempt fails without
/// retrying and says what to check, rather than risk a second import.
public struct OracleJournalImportKind: AgentKind {
    let pods: ConnectorClients<OracleFusion>

    private var store: any WorkflowStore { pods.store }

    public var name: String { "oracle.journal.import" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["connector", "journal"], optional: ["poll_interval"])
    }

    /// ESS states that end a request, and whether it succeeded.
    static let finished: [String: Bool] = [
        "SUCCEEDED": true, "ERROR": false, "WARNING": false, "CANCELLED": false, "EXPIRED": false,
        "VALIDATION_FAILED": false, "ERROR_MANUAL_RECOVERY": false, "FINISHED": true,
    ]

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        _ = try ConnectorParameter.name(request.parameters, caller: name)
        let checkpoint = try await store.taskCheckpoint(
            tenant: request.tenant, run: request.runID, taskKey: request.key)
        // A task run again from scratch sends under a new interface group: rows an errored import
        // left in GL_INTERFACE under the first one are not imported with the new journal.
        let afresh = checkpoint?.afreshRetry
        let identity = MessageIdentity.id(of: request, afresh: afresh)
        let journal: OracleJournal
        do {
            journal = try OracleJournal(
                request.parameters["journal"] ?? .null,
                groupID: Int64(identity.prefix(12), radix: 16).map { $0 % 1_000_000_000_000 + 1 } ?? 1,
                name: "UAEF " + identity.prefix(12).uppercased())
        } catch {
            throw AgentFailure("\(name): \(error)", retryable: false)
        }
        var interval = Duration.seconds(5)
        if let given = request.parameters["poll_interval"] {
            guard let duration = given.stringValue.flatMap(DurationText.parse), duration >= .milliseconds(50),
                duration <= .seconds(600)
            else {
                throw AgentFailure("\(name): `poll_interval` must be a duration from 50ms to 10m", retryable: false)
            }
            interval = duration
        }
        return try await pods.using(request, caller: name) { fusion in
            let integrations = OracleIntegrations(fusion: fusion)
            let fileName = "GlInterface_\(journal.groupID).zip"
            var resumed = true
            var requestID = checkpoint?.value["request_id"]?.stringValue
            if requestID == nil {
                guard checkpoint?.value["phase"] != "submitting" else {
                    throw AgentFailure(
                        "oracle: an earlier attempt sent \(fileName) (interface group \(journal.groupID)) and stopped before Oracle's answer was recorded, so whether the import started is unknown; check the Journal Import requests for group \(journal.groupID) in Oracle before running the task again",
                        retryable: false)
                }
                resumed = false
                try await save(
                    [
                        "phase": "submitting", "group_id": .string(String(journal.groupID)),
                        "file_name": .string(fileName),
                    ], request, afresh: afresh, type: "oracle.journal_import.submitting")
                do {
                    requestID = try await integrations.importJournal(journal, fileName: fileName, logger: logger)
                } catch let failure as AgentFailure where !failure.retryable {
                    // Refused (a 4xx, or ReqstId -1): nothing was started, so another attempt may send it.
                    try await save(
                        ["phase": "refused", "error": .string(String(failure.message.prefix(1_000)))], request,
                        afresh: afresh, type: "oracle.journal_import.refused")
                    throw failure
                }
                try await save(
                    [
                        "phase": "submitted", "request_id": .string(requestID ?? ""),
                        "group_id": .string(String(journal.groupID)), "file_name": .string(fileName),
                    ],
                    request, afresh: afresh, type: "oracle.journal_import.submitted")
            }
            let id = requestID ?? ""
            var status = ""
            var succeeded = false
            while true {
                status = try await integrations.status(of: id, logger: logger)
                if let ended = Self.finished[status] {
                    succeeded = ended
                    break
                }
                try await Task.sleep(for: interval)
                interval = min(interval * 2, .seconds(60))
            }
            let log = await integrations.readLog(of: id, logger: logger)
            if case .success(let text) = log {
                try await record(log: text, of: id, status: status, request)
            }
            guard succeeded else {
                throw AgentFailure(
                    "oracle: Journal Import request \(id) (interface group \(journal.groupID)) ended \(status)"
                        + OracleIntegrations.ending(log),
                    retryable: false)
            }
            return [
                "request_id": .string(id), "status": .string(status), "group_id": .string(String(journal.groupID)),
                "file_name": .string(fileName), "lines": .number(Number(journal.lines.count)),
                "resumed": .bool(resumed), "log_recorded": .bool((try? log.get()) != nil),
            ]
        }
    }

    /// Appends `oracle.journal_import.log`: the ended request's log as a payload.
    private func record(log: String, of requestID: String, status: String, _ request: AttemptRequest) async throws {
        var changes = ChangeSet()
        changes.events = [
            Self.event(
                "oracle.journal_import.log",
                data: [
                    "request_id": .string(requestID), "status": .string(status),
                    "bytes": .number(Number(log.utf8.count)),
                ],
                payloads: ["log": .string(log)], request, at: Date())
        ]
        try await store.commit(changes)
    }

    /// Replaces the task's checkpoint with `value` (keeping the retry it started afresh at, so
    /// that the attempts after it send under the same group), recording `type` in the ledger.
    private func save(_ value: [String: JSONValue], _ request: AttemptRequest, afresh: Int?, type: String)
        async throws
    {
        var value = value
        if let afresh { value["afresh"] = .number(Number(afresh)) }
        let now = Date()
        try await store.saveTaskCheckpoint(
            TaskCheckpoint(
                tenant: request.tenant, run: request.runID, taskKey: request.key, value: .object(value),
                attempt: request.attempt, updatedAt: now),
            event: Self.event(type, data: value, request, at: now))
    }

    /// The ledger event `type` about the attempt's task, its `data` completed with the attempt.
    private static func event(
        _ type: String, data: [String: JSONValue], payloads: [String: JSONValue] = [:], _ request: AttemptRequest,
        at now: Date
    ) -> EventDraft {
        var random = SystemRandomNumberGenerator()
        var data = data
        data["attempt"] = .number(Number(request.attempt))
        return EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type,
            actor: request.agent.map { "agent:\($0.name)" } ?? "engine", tenant: request.tenant,
            subject: "\(request.runID.rawValue)/\(request.key)", data: data, payloads: payloads)
    }
}

/// Oracle's ERP Integrations resource (`erpintegrations`): FBDI imports and their ESS requests.
struct OracleIntegrations: Sendable {
    let fusion: OracleFusion

    /// The Journal Import launcher, as `package,job`.
    static let journalImportJob = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
    /// Where General Ledger's import files go in Oracle's content server.
    static let documentAccount = "fin$/generalLedger$/import$"

    /// Sends `journal` as `GlInterface.csv` in `fileName` with the Journal Import job; the ESS
    /// request id.
    func importJournal(_ journal: OracleJournal, fileName: String, logger: Logger) async throws -> String {
        let today = String(Timestamp.format(Date()).prefix(10))
        let zip = ZipArchive.archive([
            ZipArchive.Entry(name: "GlInterface.csv", data: Array(journal.csv(today: today).utf8))
        ])
        let (_, value) = try await fusion.post(
            "erpintegrations",
            body: [
                "OperationName": "importBulkData", "DocumentContent": .string(Data(zip).base64EncodedString()),
                "ContentType": "zip", "FileName": .string(fileName), "DocumentAccount": .string(Self.documentAccount),
                "JobName": .string(Self.journalImportJob), "ParameterList": .string(journal.parameterList),
                "CallbackURL": "#NULL", "NotificationCode": "10", "JobOptions": "ExtractFileType=ALL",
            ], contentType: "application/json", logger: logger)
        let id = value["ReqstId"]?.stringValue ?? value["ReqstId"]?.numberValue.map { "\($0)" }
        guard let id, !id.isEmpty, id != "-1" else {
            throw AgentFailure(
                "oracle: importBulkData was refused (ReqstId \(id ?? "missing")): check the job name, the document account and the user's roles",
                retryable: false)
        }
        return id
    }

    /// The most bytes of log kept from one request (all of its jobs' logs together).
    static let logLimit = 1 << 20

    /// The ended ESS request's log (`downloadESSJobExecutionDetails`, `FileType: log`): the text
    /// of the files in the zip Oracle answers (a log per job of the request), each named when
    /// there are several.
    func log(of requestID: String, logger: Logger) async throws -> String {
        let (_, value) = try await fusion.post(
            "erpintegrations",
            body: [
                "OperationName": "downloadESSJobExecutionDetails", "ReqstId": .string(requestID), "FileType": "log",
            ],
            contentType: "application/json", logger: logger)
        let item = value["items"]?.arrayValue?.first ?? value
        guard let content = item["DocumentContent"]?.stringValue, let zip = Data(base64Encoded: content) else {
            throw AgentFailure(
                "oracle: the log of ESS request \(requestID) came without a base64 DocumentContent", retryable: false)
        }
        let files: [ZipArchive.Entry]
        do {
            files = try ZipArchive.entries(of: Array(zip), limit: Self.logLimit)
        } catch {
            throw AgentFailure("oracle: the log of ESS request \(requestID) is not a zip UAEF can read: \(error)")
        }
        return files.map { file in
            let text = String(decoding: file.data, as: UTF8.self)
            return files.count == 1 ? text : "== \(file.name) ==\n" + text
        }.joined(separator: "\n")
    }

    /// The ended request's log, or why it could not be read (also logged as a warning): a failed
    /// import is reported with or without its log.
    func readLog(of requestID: String, logger: Logger) async -> Result<String, any Error> {
        do {
            return .success(try await log(of: requestID, logger: logger))
        } catch {
            logger.warning("oracle: the log of ESS request \(requestID) could not be read: \(error)")
            return .failure(error)
        }
    }

    /// How a failed request's error ends: the last lines of its log, or why they are missing.
    static func ending(_ log: Result<String, any Error>) -> String {
        switch log {
        case .success(let text): "; the end of its log:\n" + tail(of: text)
        case .failure(let error): "; its log could not be read (\(error)): see Oracle's scheduled processes"
        }
    }

    /// The last lines of `log` an error shows: 20 at most, 2,000 characters at most.
    static func tail(of log: String) -> String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        let text = lines.suffix(lines.last?.isEmpty == true ? 21 : 20).joined(separator: "\n")
        return text.count > 2_000 ? "…" + text.suffix(2_000) : text
    }

    /// The ESS request's state (`RUNNING`, `SUCCEEDED`, `ERROR`, …).
    func status(of requestID: String, logger: Logger) async throws -> String {
        let value = try await fusion.get(
            "erpintegrations",
            query: [("finder", "ESSJobStatusRF;requestId=\(requestID)"), ("onlyData", "true")], logger: logger)
        return value["items"]?.arrayValue?.first?["RequestStatus"]?.stringValue ?? ""
    }
}
