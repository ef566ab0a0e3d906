import Foundation
import UAEFCore

/// One registered version of a workflow definition: `(tenant, name, version)` is unique and a
/// version, once stored, never changes.
public struct WorkflowRecord: Sendable, Hashable {
    public var tenant: String
    public var name: String
    /// Numbered by the registry from 1, one more than the latest version of the name.
    public var version: Int
    /// The definition as submitted (YAML or JSON).
    public var source: String
    /// Hex SHA-256 of `source`: registering the same bytes again returns this version.
    public var sha256: String
    public var createdAt: Date
    public var createdBy: String

    public init(
        tenant: String, name: String, version: Int, source: String, sha256: String, createdAt: Date,
        createdBy: String
    ) {
        self.tenant = tenant
        self.name = name
        self.version = version
        self.source = source
        self.sha256 = sha256
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// The request that first used an idempotency key to start a run: `(tenant, key)` is unique, so a
/// repeated request finds the run it started, and a different request under the key is refused.
public struct RunRequestRecord: Sendable, Hashable {
    public var tenant: String
    public var key: String
    /// Hex SHA-256 of the request's canonical form, compared when the key comes again.
    public var sha256: String
    public var runID: RunID
    public var createdAt: Date

    public init(tenant: String, key: String, sha256: String, runID: RunID, createdAt: Date) {
        self.tenant = tenant
        self.key = key
        self.sha256 = sha256
        self.runID = runID
        self.createdAt = createdAt
    }
}

/// A commit wrote nothing because a unique key in it was already taken (by a concurrent writer or
/// an earlier request); the caller reads what holds the key and decides.
public struct KeyTaken: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of key: a workflow version or a run request's idempotency key.
    public enum Kind: String, Sendable {
        case workflowVersion = "workflow version"
        case runRequest = "idempotency key"
    }

    public var kind: Kind
    /// The key, e.g. `invoice v3` or the idempotency key.
    public var key: String

    public init(_ kind: Kind, key: String) {
        self.kind = kind
        self.key = key
    }

    public var description: String { "\(kind.rawValue) '\(key)' is already taken" }
}

/// Which runs ``WorkflowStore/runs(tenant:matching:limit:)`` lists, newest first.
public struct RunFilter: Sendable, Hashable {
    public var status: RunStatus?
    public var workflow: String?
    /// Only the runs this run's `workflow` tasks started.
    public var parent: RunID?
    /// Only runs older than this one (the cursor of the page before).
    public var before: RunID?
    /// Only runs that have not ended (pending or running).
    public var unfinished: Bool
    /// Only child runs started without waiting (true) or only the others (false).
    public var detached: Bool?

    public init(
        status: RunStatus? = nil, workflow: String? = nil, parent: RunID? = nil, before: RunID? = nil,
        unfinished: Bool = false, detached: Bool? = nil
    ) {
        self.status = status
        self.workflow = workflow
        self.parent = parent
        self.before = before
        self.unfinished = unfinished
        self.detached = detached
    }
}
