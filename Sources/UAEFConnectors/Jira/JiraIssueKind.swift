import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `jira.issue.create`: opens an issue in a Jira connector's `project` (or the one
/// named) with `summary`, a plain-text `description` (paragraphs apart by blank lines), `labels`
/// and other `fields` as Jira names them (`priority`, `customfield_10010`, …). The output is
/// `{"id", "key", "url", "created"}`.
///
/// Once per task, as far as Jira's search index has caught up: the issue carries the label
/// `uaef-` and the task's identity (the same for every attempt), and each attempt first looks for
/// an issue with it, so an attempt retried after Jira created the issue but its answer was lost
/// finds that issue (`created: false`); within the seconds the index lags, it may not.
public struct JiraIssueKind: AgentKind {
    let lookup: ConnectorLookup

    public init(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy) {
        lookup = ConnectorLookup(store: store, secrets: secrets, policy: policy)
    }

    public var name: String { "jira.issue.create" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(
            required: ["connector", "summary"], optional: ["description", "project", "issue_type", "labels", "fields"])
    }

    /// The fields UAEF sets itself, which `fields` may not.
    static let ownFields: Set<String> = ["project", "summary", "issuetype", "description", "labels"]

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let refuse = { (message: String) in AgentFailure("\(name): \(message)", retryable: false) }
        guard let summary = request.parameters["summary"].map(Template.text), !summary.isEmpty else {
            throw refuse("summary must be a non-empty string")
        }
        let labels = try Self.labels(request.parameters["labels"]).get()
        let extra = request.parameters["fields"]?.objectValue ?? [:]
        guard request.parameters["fields"] == nil || request.parameters["fields"]?.objectValue != nil,
            extra.count <= 50, Self.ownFields.isDisjoint(with: extra.keys)
        else {
            throw refuse(
                "fields must be a mapping of at most 50 of Jira's field ids, without \(Self.ownFields.sorted().joined(separator: ", ")) (they have parameters of their own)"
            )
        }
        let connector = try await lookup.connector(of: request, kind: .jira, caller: name)
        guard let project = request.parameters["project"]?.stringValue ?? connector.settings["project"]?.stringValue
        else { throw refuse("name the project, or give connector \(connector.record.name) a project") }
        guard JiraIssue.isProjectKey(project) else {
            throw refuse("project \(project.prefix(40).debugDescription) is not a Jira project key (such as OPS)")
        }
        let issueType =
            request.parameters["issue_type"]?.stringValue ?? connector.settings["issue_type"]?.stringValue ?? "Task"
        var fields = extra
        fields["project"] = ["key": .string(project)]
        fields["issuetype"] = ["name": .string(issueType)]
        fields["summary"] = .string(JiraIssue.summary(summary))
        if let description = request.parameters["description"].map(Template.text), !description.isEmpty {
            fields["description"] = JiraIssue.document(description.components(separatedBy: "\n\n"))
        }
        fields["labels"] = .array(labels.map(JSONValue.string))
        return try await connector.scrubber.scrubbing {
            let jira = try await JiraClient(settings: connector.settings, policy: lookup.policy)
            do throws(JiraError) {
                let issue = try await jira.createOnce(
                    fields, label: JiraIssue.label(MessageIdentity.id(of: request)), logger: logger)
                await jira.shutdown()
                return [
                    "id": .string(issue.id), "key": .string(issue.key), "url": .string(jira.browse(issue.key)),
                    "created": .bool(issue.created),
                ]
            } catch {
                await jira.shutdown()
                throw AgentFailure(error.description, retryable: error.isTransient)
            }
        }
    }

    /// A task's `labels`: at most 20, each 1 to 255 characters without spaces (Jira's rule).
    static func labels(_ value: JSONValue?) -> Result<[String], AgentFailure> {
        guard let value else { return .success([]) }
        let labels = value.arrayValue?.compactMap(\.stringValue) ?? []
        guard value.arrayValue?.count == labels.count, labels.count <= 20,
            labels.allSatisfy({ (1...255).contains($0.count) && !$0.contains(where: \.isWhitespace) })
        else {
            return .failure(
                AgentFailure(
                    "jira.issue.create: labels must be a list of at most 20 texts of 1 to 255 characters without spaces",
                    retryable: false))
        }
        return .success(labels)
    }
}

/// A subscription's events as Jira issues: each event opens one issue in the connector's
/// `project`, once (the label `uaef-` and the delivery's id, looked for before creating).
struct JiraChannel: DeliveryChannel {
    let jira: JiraClient
    let project: String
    let issueType: String
    let scrubber: SecretScrubber

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        do throws(JiraError) {
            let issue = try await jira.createOnce(
                JiraIssue.fields(for: event, project: project, issueType: issueType),
                label: JiraIssue.label(delivery.id), logger: logger)
            return .delivered(status: issue.created ? 201 : 200)
        } catch {
            let reason = scrubber.scrub(error.description)
            return error.isTransient
                ? .failed(status: error.status, error: reason, retryAfter: error.retryAfter)
                : .abandoned(status: error.status, error: reason)
        }
    }

    func close() async { await jira.shutdown() }
}
