import Foundation
import Logging
import UAEFCore
import UAEFLedger
import UAEFSecrets
import UAEFStore

/// Wraps an agent kind so that parameters of the form `{"$secret": "NAME"}` (in the agent's
/// configuration or a task's `with`, at any depth) are replaced by the tenant's secret just before
/// the attempt runs. The stored parameters, events and exports keep the placeholder; the value
/// lives only in the attempt's memory: an error message or output that repeats a resolved value
/// (a server echoing a header, a URL in an error) has it replaced by `[secret NAME]` before
/// anything is stored or logged.
struct SecretResolvingKind: AgentKind {
    /// The kinds whose parameters may name secrets.
    static let kinds = ["command", "http", "llm"]

    let wrapped: any AgentKind
    let resolver: SecretResolver

    var name: String { wrapped.name }
    var parameters: WorkflowCatalog.ParameterSpec { wrapped.parameters }

    var actsOnHost: Bool { wrapped.actsOnHost }
    func actsOnHost(configuration: [String: JSONValue]) -> Bool { wrapped.actsOnHost(configuration: configuration) }

    func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        var request = request
        var used: [(name: String, value: String)] = []
        request.parameters =
            try await resolver.resolve(.object(request.parameters), tenant: request.tenant, used: &used).objectValue
            ?? [:]
        // The agent's own configuration too, for kinds that must tell it from a task's `with`
        // (its secrets were opened just above: none is read twice).
        if var agent = request.agent, !agent.configuration.isEmpty {
            agent.configuration =
                try await resolver.resolve(.object(agent.configuration), tenant: request.tenant, used: &used)
                .objectValue ?? [:]
            request.agent = agent
        }
        guard !used.isEmpty else { return try await wrapped.execute(request, logger: logger) }
        return try await SecretScrubber(used).scrubbing { try await wrapped.execute(request, logger: logger) }
    }
}

/// Opens the tenant's secrets that `{"$secret": NAME}` placeholders name, for kinds that send
/// credentials somewhere (the `command` and `http` kinds' parameters, a connector's settings).
public struct SecretResolver: Sendable {
    let store: any WorkflowStore
    let box: SecretBox?

    /// A resolver on `store`'s sealed secrets, opened with `box` (nil: this process has no master key).
    public init(store: any WorkflowStore, box: SecretBox?) {
        self.store = store
        self.box = box
    }

    /// `value` with every placeholder replaced by its secret's value; `used` gets each secret
    /// opened, for scrubbing, and a secret already in it is not read again. A missing secret or
    /// master key fails the attempt without retrying.
    public func resolve(_ value: JSONValue, tenant: String, used: inout [(name: String, value: String)]) async throws
        -> JSONValue
    {
        switch value {
        case .object(let members):
            if let name = SecretReference.name(in: value) {
                if let opened = used.first(where: { $0.name == name }) { return .string(opened.value) }
                guard let box else {
                    throw AgentFailure(
                        "secret \(name): this process has no master key (--master-key-file or UAEF_MASTER_KEY)",
                        retryable: false)
                }
                guard let sealed = try await store.secret(named: name, tenant: tenant) else {
                    throw AgentFailure(
                        "secret \(name) is not set in tenant \(tenant) (uaef secrets set)", retryable: false)
                }
                do {
                    let secret = try box.open(sealed.sealed, name: name, tenant: tenant)
                    used.append((name, secret))
                    return .string(secret)
                } catch let failure as SecretBox.Failure {
                    throw AgentFailure(failure.description, retryable: false)
                }
            }
            var resolved: [String: JSONValue] = [:]
            for (key, member) in members { resolved[key] = try await resolve(member, tenant: tenant, used: &used) }
            return .object(resolved)
        case .array(let elements):
            var resolved: [JSONValue] = []
            for element in elements { resolved.append(try await resolve(element, tenant: tenant, used: &used)) }
            return .array(resolved)
        default:
            return value
        }
    }
}

/// Replaces the values of the secrets an attempt used, wherever they appear in its error or
/// output (also inside longer text such as a URL), by `[secret NAME]`.
public struct SecretScrubber: Sendable {
    /// Longest values first, so a secret that contains another is replaced whole.
    private let secrets: [(name: String, value: String)]

    public init(_ secrets: [(name: String, value: String)]) {
        self.secrets = secrets.filter { !$0.value.isEmpty }.sorted { $0.value.count > $1.value.count }
    }

    /// The output of `operation` scrubbed, or its failure with a scrubbed message.
    public func scrubbing(_ operation: () async throws -> JSONValue) async throws -> JSONValue {
        do {
            return scrub(try await operation())
        } catch var failure as AgentFailure {
            failure.message = scrub(failure.message)
            throw failure
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentFailure(scrub("\(error)"))
        }
    }

    public func scrub(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret.value) {
            text = text.replacingOccurrences(of: secret.value, with: "[secret \(secret.name)]")
        }
        return text
    }

    public func scrub(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): .string(scrub(text))
        case .array(let elements): .array(elements.map(scrub))
        case .object(let members):
            // Two names may scrub to the same text (`S` and `[secret N]` where S is the secret).
            .object(
                Dictionary(members.map { (scrub($0.key), scrub($0.value)) }, uniquingKeysWith: { first, _ in first }))
        default: value
        }
    }
}

extension Engine {
    /// Why a secret's name is refused.
    static func checkSecretName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard (1...128).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: "secret", line: nil, field: name,
                    message: "a secret's name is 1 to 128 letters, digits, '_', '.' or '-'")
            ])
        }
    }

    /// Seals `value` under the master key and stores it as the tenant's secret `name`, recording
    /// `secret.set` (the name only).
    public func setSecret(_ name: String, value: String, actor: String) async throws -> SecretRecord {
        try Self.checkSecretName(name)
        guard let box = configuration.secrets else {
            throw SecretBox.Failure(
                description:
                    "no master key: give --master-key-file or UAEF_MASTER_KEY (32 bytes, base64) to set secrets")
        }
        let now = Date()
        let record = SecretRecord(
            tenant: tenant, name: name, sealed: try box.seal(value, name: name, tenant: tenant), keyID: box.keyID,
            updatedAt: now, updatedBy: actor)
        try await store.saveSecret(record, event: secretEvent("secret.set", name: name, actor: actor, now: now))
        return record
    }

    /// Deletes the tenant's secret `name`, recording `secret.deleted`; false when there was none.
    public func deleteSecret(_ name: String, actor: String) async throws -> Bool {
        let now = Date()
        return try await store.deleteSecret(
            named: name, tenant: tenant, event: secretEvent("secret.deleted", name: name, actor: actor, now: now))
    }

    /// What a master-key rotation did.
    public struct SecretRotation: Sendable {
        /// Secrets sealed again under the new key.
        public var resealed: Int
        /// Secrets the new key had sealed already (a rotation run a second time).
        public var alreadyNew: Int
        public var fromKey: String
        public var toKey: String
    }

    /// Re-seals every tenant's secrets under `newBox`: each is opened with this engine's master key
    /// (skipped when `newBox` sealed it already) and sealed again; all are replaced in one
    /// transaction with a `secrets.rotated` event per tenant (key ids and a count, no names or
    /// values). Throws, changing nothing, when a secret opens with neither key or changed meanwhile.
    public func rotateSecrets(to newBox: SecretBox, actor: String) async throws -> SecretRotation {
        guard let box = configuration.secrets else {
            throw SecretBox.Failure(
                description: "no current master key: give --master-key-file or UAEF_MASTER_KEY (the key in use now)")
        }
        guard box.keyID != newBox.keyID else {
            throw SecretBox.Failure(description: "the new master key is the current one (key \(box.keyID))")
        }
        let now = Date()
        var replacements: [(old: SecretRecord, new: SecretRecord)] = []
        var alreadyNew = 0
        for secret in try await store.allSecrets() {
            if secret.keyID == newBox.keyID {
                alreadyNew += 1
                continue
            }
            let value = try box.open(secret.sealed, name: secret.name, tenant: secret.tenant)
            var resealed = secret
            resealed.sealed = try newBox.seal(value, name: secret.name, tenant: secret.tenant)
            resealed.keyID = newBox.keyID
            resealed.updatedAt = now
            resealed.updatedBy = actor
            replacements.append((secret, resealed))
        }
        var random = SeededRandom.system()
        let counts = Dictionary(grouping: replacements, by: \.old.tenant).mapValues(\.count)
        let events = counts.keys.sorted().map { tenant in
            EventDraft(
                id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "secrets.rotated", actor: actor,
                tenant: tenant, subject: "secrets",
                data: [
                    "from_key": .string(box.keyID), "to_key": .string(newBox.keyID),
                    "resealed": .number(Number(counts[tenant] ?? 0)),
                ])
        }
        guard try await store.resealSecrets(replacements, events: events) else {
            throw SecretBox.Failure(description: "a secret was set or deleted during the rotation; run it again")
        }
        return SecretRotation(
            resealed: replacements.count, alreadyNew: alreadyNew, fromKey: box.keyID, toKey: newBox.keyID)
    }

    private func secretEvent(_ type: String, name: String, actor: String, now: Date) -> EventDraft {
        var random = SeededRandom.system()
        return EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type, actor: actor, tenant: tenant,
            subject: "secret/\(name)", data: ["name": .string(name)])
    }
}

/// The JSON shape of a secret shared by `uaef secrets --json` and the API: never its value.
public enum SecretReport {
    /// `{"name", "key_id", "updated_at", "updated_by"}`.
    public static func json(_ secret: SecretRecord) -> JSONValue {
        [
            "name": .string(secret.name), "key_id": .string(secret.keyID),
            "updated_at": .string(Timestamp.format(secret.updatedAt)), "updated_by": .string(secret.updatedBy),
        ]
    }
}
