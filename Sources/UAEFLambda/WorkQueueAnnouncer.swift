import Logging
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFServer
import UAEFStore

/// Announces each run the `api` function creates on the work queue (`UAEF_WORK_QUEUE_URL`) as a
/// `run.execute` message, so the `queue` function executes it at once; signed with the
/// function's own credentials. A run whose announcement fails waits for the next scheduled slot.
public struct WorkQueueAnnouncer: RunAnnouncer {
    let client: SQSClient
    let logger: Logger

    /// The announcer `environment` configures, nil without `UAEF_WORK_QUEUE_URL`: the region is
    /// `AWS_REGION` (Lambda sets it), the credentials the function's role's (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and `AWS_ENDPOINT_URL_SQS` overrides the
    /// endpoint as in the AWS SDKs.
    public static func configured(by environment: [String: String], logger: Logger) throws -> WorkQueueAnnouncer? {
        guard let queue = environment["UAEF_WORK_QUEUE_URL"], !queue.isEmpty else { return nil }
        guard let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] else {
            throw LambdaHandlerError(
                type: "UAEF.Configuration", "UAEF_WORK_QUEUE_URL is set but AWS_REGION is not: the queue's region")
        }
        var settings: [String: JSONValue] = ["queue_url": .string(queue), "region": .string(region)]
        if let endpoint = environment["AWS_ENDPOINT_URL_SQS"] { settings["endpoint"] = .string(endpoint) }
        // The operator's own queue, configured with the function: not a tenant's address.
        let access = ConnectorAccess(policy: .unrestricted, ambientAWSCredentials: .environment(environment))
        do {
            return WorkQueueAnnouncer(client: try SQSClient(settings: settings, access: access), logger: logger)
        } catch {
            throw LambdaHandlerError(type: "UAEF.Configuration", "the work queue: \(error)")
        }
    }

    public func announce(_ run: RunRecord) async {
        let message: JSONValue = [
            "type": "run.execute", "tenant": .string(run.tenant), "run_id": .string(run.id.rawValue),
        ]
        do {
            _ = try await client.send(SQSClient.OutgoingMessage(body: message.jsonText), logger: logger)
        } catch {
            logger.error(
                "a new run could not be announced on the work queue; the next scheduled slot executes it",
                metadata: ["run.id": "\(run.id.rawValue)", "error": "\(error)"])
        }
    }
}
