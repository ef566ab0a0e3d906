import Foundation
import UAEFCore
import UAEFLedger
import UAEFStore

/// Why a registry operation was refused (validation problems are a ``ValidationFailure``).
public enum RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tenant has no workflow of this name.
    case unknownWorkflow(String)
    /// The workflow exists but not at this version.
    case unknownVersion(name: String, version: Int, latest: Int)
    /// An idempotency key came again with a different request.
    case idempotencyKeyReused(String)

    public var description: String {
        switch self {
        case .unknownWorkflow(let name):
            "no workflow named '\(name)' is registered; register it first (uaef workflows register FILE, or POST /v1/workflows)"
        case .unknownVersion(let name, let version, let latest):
            "workflow '\(name)' has no version \(version); versions 1 to \(latest) are registered"
        case .idempotencyKeyReused(let key):
            "idempotency key '\(key)' was already used for a different request; use a new key for new work"
        }
    }
}

extension Engine {
    /// A registered version and whether this call created it.
    public struct Registration: Sendable {
        public var workflow: WorkflowRecord
        /// False when the latest version already had exactly this source.
        public var created: Bool
    }

    /// Validates a definition and registers it as the next version of its name, recording a
    /// `workflow.registered` event (with `template`, the workflow template it was made from:
    /// its name, version, digest and values); registering the latest version's exact source again
    /// returns that version unchanged.
    public func register(_ source: String, origin: String, actor: String, template: JSONValue? = nil) async throws
        -> Registration
    {
        let definition = try await validate(source, file: origin)
        let digest = ContentDigest.sha256(Array(source.utf8))
        // Two registrations of one name at once: the loser's version is taken, so it reads again.
        for _ in 0..<8 {
            let latest = try await store.workflowVersions(named: definition.name, tenant: tenant).last
            if let latest, latest.sha256 == digest { return Registration(workflow: latest, created: false) }
            var random = SeededRandom.system()
            let now = Date()
            let record = WorkflowRecord(
                tenant: tenant, name: definition.name, version: (latest?.version ?? 0) + 1, source: source,
                sha256: digest, createdAt: now, createdBy: actor)
            var data: [String: JSONValue] = [
                "name": .string(record.name), "version": .number(Number(record.version)), "sha256": .string(digest),
            ]
            data["template"] = template
            var changes = ChangeSet()
            changes.workflows.append(record)
            changes.events.append(
                EventDraft(
                    id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "workflow.registered",
                    actor: actor, tenant: tenant, subject: "workflow/\(record.name)", data: data))
            do {
                try await store.commit(changes)
                return Registration(workflow: record, created: true)
            } catch is KeyTaken {
                continue
            }
        }
        throw KeyTaken(.workflowVersion, key: definition.name)
    }

    /// A request to start a registered workflow.
    public struct RunRequest: Sendable {
        public var workflow: String
        /// Nil for the latest version.
        public var version: Int?
        public var inputs: [String: JSONValue]
        /// With a key, the same request again returns the run the first one started.
        public var idempotencyKey: String?
        /// The run and task starting it as a child: only a `workflow` task (``WorkflowKind``) sets it.
        var parent: ChildOrigin?

        /// The prefix of the keys `workflow` tasks start their children under.
        static let childKeyPrefix = "child:"

        /// The namespaces of the idempotency keys UAEF derives itself: child runs (`child:`),
        /// schedule slots (`schedule:`) and connector triggers (`hook:`, `sqs:`, `servicebus:`). A
        /// caller's key must not begin with one, or it could take the run one of them would start.
        public static let platformKeyPrefixes = [childKeyPrefix, "schedule:", "hook:", "sqs:", "servicebus:"]

        /// Why a caller may not give `key`: it begins with one of ``platformKeyPrefixes``; nil when
        /// it may.
        public static func reservedKeyProblem(_ key: String) -> String? {
            guard let prefix = platformKeyPrefixes.first(where: key.hasPrefix) else { return nil }
            return
                "keys beginning with \(prefix) are UAEF's own (child runs, schedule slots, connector triggers); choose a key that does not begin with \(platformKeyPrefixes.joined(separator: ", "))"
        }

        public init(workflow: String, version: Int? = nil, inputs: [String: JSONValue] = [:], idempotencyKey: String?) {
            self.workflow = workflow
            self.version = version
            self.inputs = inputs
            self.idempotencyKey = idempotencyKey
        }

        /// Hex SHA-256 of the request's RFC 8785 form, compared when its key comes again.
        var sha256: String {
            let body: JSONValue = [
                "workflow": .string(workflow), "version": version.map { .number(Number($0)) } ?? .null,
                "inputs": .object(inputs),
            ]
            return ContentDigest.sha256(CanonicalJSON.bytes(body))
        }
    }

    /// A run a request started, or found already started under its idempotency key.
    public struct RunStart: Sendable {
        public var run: RunID
        public var definition: WorkflowDefinition
        /// False when the idempotency key had already started this run.
        public var created: Bool
        /// The new run as created (pending, no tasks yet); nil for a run found under its key.
        public var createdRecord: RunRecord?
    }

    /// Starts a run of a registered workflow (the latest version unless one is named). With
    /// `leased` this process holds the run's lease and is expected to execute it. `alongside`
    /// (given the new run's id) adds changes committed with the run, all or nothing; a run found
    /// under its idempotency key commits none of them.
    public func start(
        _ request: RunRequest, actor: String, leased: Bool,
        alongside: (@Sendable (RunID) -> ChangeSet)? = nil
    ) async throws -> RunStart {
        let (record, definition) = try await check(request)
        // A key is not looked up first: the run and its key commit together or not at all, so a
        // first request (the usual case) costs no read, and a repeated one finds its run below.
        do {
            let created = try await submit(
                definition, file: "\(record.name)@v\(record.version)", overrides: request.inputs, actor: actor,
                leased: leased, request: request.idempotencyKey.map { ($0, request.sha256) }, parent: request.parent,
                alongside: alongside)
            return RunStart(run: created.id, definition: definition, created: true, createdRecord: created)
        } catch is KeyTaken {
            // An earlier request with the key (or a concurrent one) committed first.
            guard let key = request.idempotencyKey, let earlier = try await earlierRun(key: key, request: request)
            else { throw RegistryError.idempotencyKeyReused(request.idempotencyKey ?? "") }
            return RunStart(run: earlier, definition: definition, created: false)
        }
    }

    /// The registered version a request would start and its definition, after checking its
    /// inputs against it (``RegistryError`` or ``ValidationFailure`` when it would be refused);
    /// nothing is written.
    public func check(_ request: RunRequest) async throws -> (WorkflowRecord, WorkflowDefinition) {
        let versions = try await store.workflowVersions(named: request.workflow, tenant: tenant)
        guard let latest = versions.last else { throw RegistryError.unknownWorkflow(request.workflow) }
        guard let record = request.version.map({ version in versions.first { $0.version == version } }) ?? latest
        else {
            throw RegistryError.unknownVersion(
                name: request.workflow, version: request.version!, latest: latest.version)
        }
        let definition = try await definition(of: record)
        try RunCreation.checkOverrides(request.inputs, definition: definition, place: "inputs")
        return (record, definition)
    }

    /// The definition of a registered version, parsed once: a stored version never changes, and
    /// it was validated (against the agents then registered) when it was registered.
    private func definition(of record: WorkflowRecord) async throws -> WorkflowDefinition {
        let key = [tenant, record.name, String(record.version), record.sha256].joined(separator: "\u{0}")
        if let cached = definitions.value(for: key) { return cached }
        var definition = try await validate(record.source, file: "\(record.name)@v\(record.version)")
        definition.version = record.version
        definitions.keep(definition, for: key)
        return definition
    }

    /// The run an earlier identical request started under `key`; throws when the key was used for
    /// another request.
    private func earlierRun(key: String, request: RunRequest) async throws -> RunID? {
        guard let earlier = try await store.runRequest(key: key, tenant: tenant) else { return nil }
        guard earlier.sha256 == request.sha256 else { throw RegistryError.idempotencyKeyReused(key) }
        return earlier.runID
    }
}
