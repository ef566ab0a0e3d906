import ArgumentParser
import UAEFAgents
import UAEFConnectors
import UAEFEngine

/// What tenants' work may do to the host and its network in a server process (`uaef serve`,
/// `uaef worker`): nothing beyond public addresses unless the administrator starting it says so.
struct HostAccessOptions: ParsableArguments {
    @Flag(
        help: ArgumentHelp(
            "Offer the command kind, which runs programs on this host as this process's user: in uaef serve only through agents an administrator registers (tasks cannot name the kind); in uaef worker for the runs in the store. Off by default; read docs/security.md first."
        ))
    var allowCommand = false

    @Option(
        help: ArgumentHelp(
            "A private address range (CIDR), address or host name the http kind may reach, besides public addresses (repeatable). Loopback, private, link-local and metadata addresses are refused otherwise.",
            valueName: "range-or-host"))
    var allowNetwork: [String] = []

    @Flag(
        help: ArgumentHelp(
            "Lend this process's AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) to SQS connectors that name no keys of their own. Off by default: any tenant's connector could then act as this process's AWS identity."
        ))
    var allowEnvironmentCredentials = false

    @Flag(
        help: ArgumentHelp(
            "Let Slack buttons decide approvals as the people a slack connector's approvers maps Slack users to. Off by default: a tenant's admins then vouch for who a Slack user is in UAEF and in which approval roles, as issuing tokens does (docs/connectors.md#slack)."
        ))
    var allowSlackApprovals = false

    func validate() throws {
        do {
            _ = try OutboundPolicy(allowing: allowNetwork)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The agent kinds a server process offers under these options; `command` goes to `granted`
    /// when allowed.
    func kinds(granting granted: BuiltInAgents.CommandAccess) throws -> AgentKindRegistry {
        BuiltInAgents.server(command: allowCommand ? granted : .none, policy: try outboundPolicy())
    }

    /// Where kinds that reach other systems (`http`, connectors) may connect: public addresses
    /// and what `--allow-network` adds.
    func outboundPolicy() throws -> OutboundPolicy { try OutboundPolicy(allowing: allowNetwork) }

    /// What connectors may use: the outbound policy, the environment's AWS credentials when
    /// `--allow-environment-credentials` lends them, and Slack approvals when allowed.
    func connectorAccess() throws -> ConnectorAccess {
        ConnectorAccess(
            policy: try outboundPolicy(), ambientAWSCredentials: allowEnvironmentCredentials ? .environment() : nil,
            slackApprovals: allowSlackApprovals)
    }
}
