import Foundation
import UAEFAgents
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// What connectors may use of this process: the network addresses they may reach, for AWS
/// connectors that name no keys of their own the process's AWS credentials, and whether a Slack
/// connector's `approvers` may decide approvals. On a server all three are the operator's to
/// grant (`--allow-network`, `--allow-environment-credentials`, `--allow-slack-approvals`), never
/// a tenant's: a connector that borrowed the server's AWS identity could reach every queue it
/// can, and a tenant admin who maps Slack users vouches for who approves, as issuing tokens does.
public struct ConnectorAccess: Sendable {
    public var policy: OutboundPolicy
    /// Credentials lent to connectors without their own; nil lends none.
    public var ambientAWSCredentials: AWSCredentials?
    /// Whether Slack buttons decide approvals as the people a connector's `approvers` names.
    public var slackApprovals: Bool

    public init(policy: OutboundPolicy, ambientAWSCredentials: AWSCredentials? = nil, slackApprovals: Bool = false) {
        self.policy = policy
        self.ambientAWSCredentials = ambientAWSCredentials
        self.slackApprovals = slackApprovals
    }

    /// A one-user CLI command: any address, and the environment's AWS credentials.
    public static var local: ConnectorAccess {
        ConnectorAccess(policy: .unrestricted, ambientAWSCredentials: AWSCredentials.environment())
    }
}

extension AWSCredentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` from `environment`,
    /// or nil when the first two are not both set.
    public static func environment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> AWSCredentials?
    {
        guard let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret,
            sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }
}

extension AgentKindRegistry {
    /// Adds the connector task kinds (`webhook.send`, `sqs.send`, `servicebus.send`,
    /// `sap.supplier_invoice.create|post|release|cancel`, `oracle.invoice.create`,
    /// `oracle.journal.import`), which use
    /// `store`'s connectors, open
    /// their secrets with `secrets` and reach other systems under `access`.
    public mutating func registerConnectorKinds(store: any WorkflowStore, secrets: SecretBox?, access: ConnectorAccess)
    {
        register(WebhookSendKind(store: store, secrets: secrets, policy: access.policy))
        register(SQSSendKind(store: store, secrets: secrets, access: access))
        register(ServiceBusSendKind(store: store, secrets: secrets, access: access))
        register(SlackPostKind(store: store, secrets: secrets, policy: access.policy))
        register(TeamsPostKind(store: store, secrets: secrets, policy: access.policy))
        register(JiraIssueKind(store: store, secrets: secrets, policy: access.policy))
        let services = SAPSupplierInvoiceKind.services(store: store, secrets: secrets, policy: access.policy)
        for operation in SAPSupplierInvoiceKind.Operation.allCases {
            register(SAPSupplierInvoiceKind(operation, services: services))
        }
        let pods = OracleInvoiceKind.pods(store: store, secrets: secrets, policy: access.policy)
        register(OracleInvoiceKind(pods: pods))
        register(OracleJournalImportKind(pods: pods))
    }
}
