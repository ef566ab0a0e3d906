import Foundation
import HTTPTypes
import Hummingbird
import Logging
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

/// `POST /v1/slack/{tenant}/{connector}`: the interactivity Request URL of the Slack app behind
/// a `slack` connector. No token: Slack's `v0` signature under the connector's `signing_secret`
/// authenticates the request (a bad or stale one is a 401 and counts against the sender's address
/// like a failed token). Where the server allows Slack approvals (`--allow-slack-approvals`), an
/// Approve or Reject button decides the approval as the person the connector's `approvers` maps
/// the Slack user to, under the same maker-checker rules as the API. Slack then shows the
/// outcome: the message updated once the approval is decided (without its buttons), otherwise a
/// note only the presser sees. The Slack calls give up after two seconds, so the answer comes
/// within the three seconds Slack waits.
struct SlackRoutes {
    let operations: APIOperations
    let access: ConnectorAccess
    let failures: RateLimiter
    let bodyLimit: Int
    /// Slack connectors recently used.
    let receivers = InboundConnectors()
    /// How long showing an outcome in Slack may take.
    static let slackTimeout = Duration.seconds(2)

    func add(to router: Router<APIContext>) {
        router.post("v1/slack/:tenant/:connector") { request, context in
            let client = context.clientAddress ?? "unknown"
            if let wait = failures.waitIfEmpty(client) {
                throw Problem.tooManyRequests("too many refused Slack requests from \(client)", retryAfter: wait)
            }
            let tenant = try context.parameters.require("tenant")
            let name = try context.parameters.require("connector")
            guard TenantName.isValid(tenant), ConnectorDefinition.isValidName(name),
                let connector = try await receiver(name, tenant: tenant, logger: context.logger)
            else {
                // Counted like a refused signature, so connector names cannot be guessed at speed.
                _ = failures.take(client)
                throw Problem.notFound(
                    "slack connector \(name.prefix(64)) with a signing_secret in tenant \(tenant.prefix(64))")
            }
            let (record, settings) = (connector.record, connector.settings)
            let body = Array(buffer: try await request.body.collect(upTo: bodyLimit))
            do {
                try SlackSignature.verify(
                    signature: request.headers[HTTPField.Name(SlackSignature.signatureHeader)!],
                    timestamp: request.headers[HTTPField.Name(SlackSignature.timestampHeader)!], body: body,
                    secrets: [settings["signing_secret"]?.stringValue ?? ""], now: Date())
            } catch {
                _ = failures.take(client)
                throw Problem(.unauthorized, "invalid-signature", "\(record.name): \(error)")
            }
            let interaction: SlackInteraction
            do {
                interaction = try SlackInteraction.parse(form: body)
            } catch {
                throw Problem(.unprocessableContent, "validation-failed", "not a Slack interaction: \(error)")
            }
            ConnectorMetrics.count(.received, tenant: tenant, connector: record.name)
            for (approval, approve) in interaction.decisions {
                let answer = await decide(
                    approval, approve: approve, interaction: interaction, settings: settings, tenant: tenant,
                    connector: record.name)
                do {
                    let slack = try await SlackClient(
                        settings: settings, policy: access.policy, timeout: Self.slackTimeout)
                    await show(answer, interaction: interaction, on: slack, logger: context.logger)
                    await slack.shutdown()
                } catch {
                    context.logger.warning("cannot reach Slack to show a decision", metadata: ["error": "\(error)"])
                }
            }
            return Response(status: .ok)
        }
    }

    /// The tenant's slack connector `name` with a signing secret, its secrets opened (kept for a
    /// second by ``InboundConnectors``), or nil.
    private func receiver(_ name: String, tenant: String, logger: Logger) async throws -> ResolvedConnector? {
        try await receivers.connector(
            name, kind: .slack, engine: operations.runtime.engine(for: tenant), what: "requests", logger: logger
        ) { $0.settings["signing_secret"] != nil ? () : nil }?.connector
    }

    /// What Slack is to show after a button, as `mrkdwn` (anything from outside escaped): the
    /// message's new last line once the approval is decided (its buttons go), or a note for the
    /// presser alone (a decision recorded that waits for more approvers, or a refusal). Only the
    /// press that decides updates the message, so two presses at once cannot bring the buttons
    /// back.
    enum Answer {
        case decided(line: String)
        case note(String)
    }

    private func decide(
        _ approval: String, approve: Bool, interaction: SlackInteraction, settings: [String: JSONValue],
        tenant: String, connector: String
    ) async -> Answer {
        let user = interaction.user
        guard access.slackApprovals else {
            return .note(
                "Approvals are not decided from Slack on this server (its operator can allow it with uaef serve --allow-slack-approvals); decide in UAEF's console. Nothing was recorded."
            )
        }
        guard (1...128).contains(approval.utf8.count) else {
            return .note("The button does not name an approval of UAEF's; nothing was recorded.")
        }
        if let team = settings["team"]?.stringValue, interaction.team != team {
            return .note("This Slack workspace is not the one connector \(connector) serves; nothing was recorded.")
        }
        guard let approver = SlackApprover.named(user, in: settings) else {
            return .note(
                "You (\(user)) are not an approver in UAEF: an admin maps Slack users to people in connector \(connector)'s approvers. Nothing was recorded."
            )
        }
        let principal = Principal(
            subject: approver.subject, tenant: tenant, roles: [.approver], approvalRoles: approver.approvalRoles)
        do {
            let decided = try await operations.decide(
                approval, approve ? .approve : .reject, role: nil, asNeeded: true, reason: "in Slack by \(user)",
                by: principal)
            let status = decided["status"]?.stringValue ?? ""
            let finished = !["pending", "pending_approval"].contains(status)
            let verb = approve ? "Approved" : "Rejected"
            let who = "<@\(user)> (\(SlackMessage.escaped(principal.actor)))"
            let line = "\(verb) by \(who) at \(Timestamp.format(Date()))"
            let id = SlackMessage.escaped(approval)
            return finished
                ? .decided(line: "\(line): \(id) is \(status.replacingOccurrences(of: "_", with: " "))")
                : .note("\(line) is recorded; \(id) waits for more approvers.")
        } catch let problem as Problem {
            return .note("Not recorded: " + SlackMessage.escaped(problem.detail))
        } catch let refusal as Refusal {
            return .note("Not recorded: " + SlackMessage.escaped(refusal.description))
        } catch {
            return .note("Not recorded: the server could not record the decision (\(type(of: error))); try again.")
        }
    }

    /// Shows `answer` in Slack: the pressed message updated, or a note to the presser alone.
    /// A Slack call that fails is logged; the decision stands.
    private func show(_ answer: Answer, interaction: SlackInteraction, on slack: SlackClient, logger: Logger) async {
        guard let channel = interaction.channel else { return }
        do throws(SlackAPIError) {
            switch answer {
            case .decided(let line):
                guard let ts = interaction.messageTS else { return }
                try await slack.update(
                    SlackMessage.decided(interaction.blocks, line: line), channel: channel, ts: ts, logger: logger)
            case .note(let reason):
                try await slack.whisper(SlackMessage(text: reason), to: interaction.user, in: channel, logger: logger)
            }
        } catch {
            logger.warning("cannot show a decision in Slack", metadata: ["error": "\(error)"])
        }
    }
}
