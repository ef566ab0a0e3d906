/// What a role lets its holder do; every route requires one permission.
public enum Permission: String, Sendable, CaseIterable {
    /// Read workflows, runs, agents, settlements and approvals (not ledger payloads).
    case read
    /// Register workflows.
    case writeWorkflows
    /// Start and cancel runs.
    case writeRuns
    /// Register agents and change their status.
    case writeAgents
    /// Read the ledger: events with payloads, proofs, checkpoints, compliance reports.
    case readLedger
    /// Approve or reject settlements and approval tasks.
    case approve
    /// Claim, heartbeat and complete attempts as a remote agent.
    case agentWork
    /// Set, list and delete the tenant's secrets (never read them back).
    case manageSecrets
    /// Save and remove connectors: they let workflows reach other systems.
    case manageConnectors
    /// Replay dead subscription deliveries and resume subscriptions a receiver paused.
    case operateDeliveries
    /// Save, pause, resume, trigger and remove schedules: they start runs.
    case manageSchedules
}

extension Permission {
    /// The roles that grant it, by name, for refusals that say what would be needed.
    var grantingRoles: String {
        Role.allCases.filter { $0.permissions.contains(self) }.map(\.rawValue).joined(separator: ", ")
    }
}

/// The roles a token can carry (its `roles` claim).
public enum Role: String, Sendable, CaseIterable, Codable {
    case admin, `operator`, approver, auditor, agent, viewer

    /// The permissions the role grants.
    public var permissions: Set<Permission> {
        switch self {
        case .admin: Set(Permission.allCases)
        case .operator: [.read, .writeWorkflows, .writeRuns, .writeAgents, .operateDeliveries, .manageSchedules]
        case .approver: [.read, .approve]
        case .auditor: [.read, .readLedger]
        case .agent: [.agentWork]
        case .viewer: [.read]
        }
    }
}

/// Who is calling: the verified subject of a token, its tenant and roles.
public struct Principal: Sendable, Hashable {
    public var subject: String
    public var tenant: String
    public var roles: Set<Role>
    /// The business roles the principal approves in (a token's `approves_as`), matched against
    /// the role a settlement rule or an approval task asks for, e.g. `finance`.
    public var approvalRoles: Set<String>

    public init(subject: String, tenant: String, roles: Set<Role>, approvalRoles: Set<String> = []) {
        self.subject = subject
        self.tenant = tenant
        self.roles = roles
        self.approvalRoles = approvalRoles
    }

    /// True when some role grants `permission`.
    public func may(_ permission: Permission) -> Bool { roles.contains { $0.permissions.contains(permission) } }

    /// True for a subject of 1 to 256 characters without control characters (no NUL, CR or LF to
    /// forge log lines or event text with).
    public static func isValidSubject(_ subject: String) -> Bool {
        (1...256).contains(subject.count)
            && !subject.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// The actor recorded on the events this principal causes, e.g. `api:alice`.
    public var actor: String { "api:" + subject }
}
