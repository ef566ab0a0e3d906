import Foundation
import Logging
import NIOCore
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFServer

/// One message of the work queue: what the `queue` handler is asked to do.
///
/// ```json
/// {"type": "run.start", "tenant": "acme", "workflow": "invoice", "inputs": {…}, "idempotency_key": "inv-42"}
/// {"type": "runs.resume", "tenant": "acme"}
/// {"type": "run.execute", "tenant": "acme", "run_id": "run_01…"}
/// {"type": "attempts.execute", "tenant": "acme", "capabilities": ["ocr"]}
/// {"type": "deliveries.send", "tenant": "acme"}
/// ```
///
/// The queue is UAEF's own: whoever may send to it acts for any tenant, so sending is an IAM
/// permission for administrators and UAEF's functions only (deploy/template.yaml grants none else).
public enum WorkMessage: Sendable {
    /// Starts a run of the tenant's workflow (found again by its key when given) and executes it.
    case startRun(tenant: String, Engine.RunRequest)
    /// Executes the tenant's unfinished runs whose lease is free or expired.
    case resumeRuns(tenant: String)
    /// Executes one unfinished run of the tenant when its lease is free or expired (what the
    /// `api` function announces for each run it creates).
    case executeRun(tenant: String, RunID)
    /// Executes the attempts queued for workers serving `capabilities` (nil: any) that can be
    /// claimed now: the work of a `uaef worker --capabilities`, once.
    case executeAttempts(tenant: String, capabilities: [String]?)
    /// Sends what the tenant's subscriptions have due now: the work of `uaef worker --connectors`
    /// for its outbox, once.
    case sendDeliveries(tenant: String)

    /// What is wrong with a message.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The message `body` holds.
    public init(_ body: String) throws(Invalid) {
        guard let value = try? JSONValue(jsonText: body), let members = value.objectValue else {
            throw Invalid(description: "the body is not a JSON object")
        }
        guard let tenant = members["tenant"]?.stringValue, (1...128).contains(tenant.utf8.count) else {
            throw Invalid(description: "tenant: expected the tenant's name")
        }
        switch members["type"]?.stringValue {
        case "run.start":
            guard let workflow = members["workflow"]?.stringValue, !workflow.isEmpty else {
                throw Invalid(description: "workflow: expected the name of a registered workflow")
            }
            let inputs = members["inputs"] ?? .object([:])
            guard let inputs = inputs.objectValue else { throw Invalid(description: "inputs: expected an object") }
            let key = members["idempotency_key"]
            guard key == nil || key?.stringValue.map({ (1...255).contains($0.utf8.count) }) == true else {
                throw Invalid(description: "idempotency_key: expected text of 1 to 255 bytes")
            }
            if let problem = key?.stringValue.flatMap(Engine.RunRequest.reservedKeyProblem) {
                throw Invalid(description: "idempotency_key: \(problem)")
            }
            self = .startRun(
                tenant: tenant,
                Engine.RunRequest(workflow: workflow, inputs: inputs, idempotencyKey: key?.stringValue))
        case "runs.resume":
            self = .resumeRuns(tenant: tenant)
        case "run.execute":
            guard let id = members["run_id"]?.stringValue, id.hasPrefix("run_"), (5...64).contains(id.utf8.count) else {
                throw Invalid(description: "run_id: expected a run's id (run_…)")
            }
            self = .executeRun(tenant: tenant, RunID(id))
        case "attempts.execute":
            let given = members["capabilities"]
            let capabilities = given?.arrayValue?.compactMap(\.stringValue)
            guard given == nil || (capabilities?.count == given?.arrayValue?.count && capabilities?.isEmpty == false)
            else {
                throw Invalid(
                    description: "capabilities: expected a non-empty list of capability names, or none for any")
            }
            self = .executeAttempts(tenant: tenant, capabilities: capabilities)
        case "deliveries.send":
            self = .sendDeliveries(tenant: tenant)
        default:
            throw Invalid(
                description: "type: expected run.start, runs.resume, run.execute, attempts.execute or deliveries.send")
        }
    }
}

/// The `queue` handler: an SQS batch of ``WorkMessage``s, each done in turn. The answer is a
/// partial batch response (`{"batchItemFailures": [{"itemIdentifier": messageId}]}`, empty when
/// every message was done), so SQS deletes the messages done and delivers the others again; the
/// event source mapping must have `ReportBatchItemFailures`. A bad message is a failure of its
/// own item, never of the batch. Every message is idempotent (a run's key, resuming), so one
/// delivered again, or a batch cut off by the deadline, does nothing twice.
public struct QueueHandler: LambdaHandler {
    let runtime: ServerRuntime
    /// The tenants' connectors, for `deliveries.send`.
    let connectors: ConnectorWorkers

    public init(runtime: ServerRuntime, connectors: ConnectorWorkers) {
        self.runtime = runtime
        self.connectors = connectors
    }

    public func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer {
        guard let value = try? JSONValue(jsonText: String(buffer: event)), let records = value["Records"]?.arrayValue
        else {
            throw LambdaHandlerError(type: "UAEF.InvalidEvent", "queue: the event is not an SQS batch (Records)")
        }
        var failures: [JSONValue] = []
        for record in records {
            guard let id = record["messageId"]?.stringValue else { continue }
            do {
                try Task.checkCancellation()
                try await perform(try WorkMessage(record["body"]?.stringValue ?? ""), context: context)
            } catch {
                context.logger.error(
                    "a work message failed", metadata: ["message_id": "\(id)", "error": "\(error)"])
                failures.append(["itemIdentifier": .string(id)])
            }
        }
        return ByteBuffer(string: JSONValue.object(["batchItemFailures": .array(failures)]).jsonText)
    }

    private func perform(_ message: WorkMessage, context: LambdaContext) async throws {
        switch message {
        case .startRun(let tenant, let request):
            let engine = runtime.engine.forTenant(tenant)
            let start = try await engine.start(request, actor: "queue", leased: true)
            if let created = start.createdRecord {
                _ = try await engine.execute(
                    [start.run], definitions: [start.run: start.definition], created: [start.run: created])
            } else {
                // Started by an earlier delivery of the message: finish it if nobody holds it.
                _ = try await engine.resume()
            }
        case .resumeRuns(let tenant):
            _ = try await runtime.engine.forTenant(tenant).resume()
        case .executeRun(let tenant, let id):
            // Nil: finished, or another invocation holds it (a message delivered twice).
            _ = try await runtime.engine.forTenant(tenant).resume(id)
        case .executeAttempts(let tenant, let capabilities):
            let events = try await runtime.engine.forTenant(tenant).executeQueuedAttemptsNow(capabilities: capabilities)
            context.logger.info(
                "queued attempts executed", metadata: ["tenant": "\(tenant)", "count": "\(events.count)"])
        case .sendDeliveries(let tenant):
            let attempted = try await connectors.deliverDue(tenant: tenant)
            context.logger.info("deliveries attempted", metadata: ["tenant": "\(tenant)", "count": "\(attempted)"])
        }
    }
}
