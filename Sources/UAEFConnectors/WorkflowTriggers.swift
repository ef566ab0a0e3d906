import Foundation
import Synchronization
import UAEFCore
import UAEFEngine
import UAEFStore

/// One entry of a workflow's `triggers:` section: each message arriving at the tenant's
/// connector `connector` (a webhook, SQS or Service Bus connector) starts a run of the workflow's
/// latest version with the message as its input `input`, when `filter` (an expression over
/// `message`) is absent or true.
///
/// ```yaml
/// triggers:
///   - connector: orders
///     input: order                          # default: message
///     filter: message.kind == "order.created"
/// ```
public struct WorkflowTrigger: Sendable, Hashable {
    public var connector: String
    public var input: String
    public var filter: UAEFCore.Expression?

    /// Whether a message with `data` starts a run: no filter, or one that is true (a filter that
    /// reads what the message lacks is false).
    public func accepts(_ data: JSONValue) -> Bool {
        guard let filter else { return true }
        return (try? filter.evaluate(in: ["message": data])) == .bool(true)
    }
}

/// The `triggers:` section of a workflow file, checked with every workflow an engine validates.
public struct TriggersSection: WorkflowSection {
    /// The most triggers one workflow declares.
    public static let maximumTriggers = 20

    public init() {}

    public var key: String { "triggers" }

    public func problems(in root: YAMLSource, file: String) -> [ValidationIssue] {
        do {
            _ = try Self.parse(root, file: file)
            return []
        } catch { return error.issues }
    }

    /// The triggers of the workflow document `root` (none when it has no `triggers:`).
    public static func parse(_ root: YAMLSource, file: String) throws(ValidationFailure) -> [WorkflowTrigger] {
        guard let section = root.entries?.first(where: { $0.key == "triggers" })?.value else { return [] }
        let declared = Set(root.entries?.first { $0.key == "inputs" }?.value.entries?.map(\.key) ?? [])
        var reader = TriggerReader(file: file, inputs: declared)
        let triggers = reader.read(section)
        guard reader.issues.isEmpty else { throw ValidationFailure(issues: reader.issues) }
        return triggers
    }
}

/// One validation pass over a `triggers:` section.
private struct TriggerReader: DefinitionReading {
    let file: String
    /// The workflow's declared inputs: a trigger's `input` must be one of them.
    let inputs: Set<String>
    var issues: [ValidationIssue] = []

    init(file: String, inputs: Set<String>) {
        self.file = file
        self.inputs = inputs
    }

    mutating func read(_ section: YAMLSource) -> [WorkflowTrigger] {
        guard let elements = section.elements, (1...TriggersSection.maximumTriggers).contains(elements.count) else {
            report(
                "triggers", section.line,
                "expected a list of 1 to \(TriggersSection.maximumTriggers) triggers such as {connector: NAME, input: NAME, filter: EXPRESSION}"
            )
            return []
        }
        var triggers: [WorkflowTrigger] = []
        for (index, element) in elements.enumerated() {
            if let trigger = readTrigger(element, field: "triggers[\(index)]") { triggers.append(trigger) }
        }
        var seen: Set<String> = []
        for (index, trigger) in triggers.enumerated() where !seen.insert(trigger.connector).inserted {
            report(
                "triggers[\(index)].connector", elements[index].line,
                "connector \(trigger.connector) is named twice; one trigger per connector (combine the filters with ||)"
            )
        }
        return triggers
    }

    private mutating func readTrigger(_ source: YAMLSource, field: String) -> WorkflowTrigger? {
        guard let fields = mapping(source, field: field, allowed: ["connector", "input", "filter"]) else { return nil }
        let issueCount = issues.count
        let connector = string(fields["connector"], field: "\(field).connector")
        if fields["connector"] == nil {
            report("\(field).connector", source.line, "required: the name of a webhook, sqs or servicebus connector")
        } else if let connector, !ConnectorDefinition.isValidName(connector) {
            report(
                "\(field).connector", fields["connector"]?.line,
                "\"\(connector.prefix(80))\" is not a connector name; use \(ConnectorDefinition.namePattern)")
        }
        let input = string(fields["input"], field: "\(field).input") ?? "message"
        if !inputs.contains(input) {
            let declared =
                inputs.isEmpty ? "the workflow declares none" : "declared: \(inputs.sorted().joined(separator: ", "))"
            report(
                "\(field).input", fields["input"]?.line ?? source.line,
                "the message becomes input \"\(input.prefix(80))\", which the workflow's inputs: must declare (\(declared))"
            )
        }
        var filter: UAEFCore.Expression?
        if let text = string(fields["filter"], field: "\(field).filter") {
            do {
                guard text.utf8.count <= 2_000 else { throw ExpressionError("longer than 2000 bytes") }
                let parsed = try UAEFCore.Expression(parsing: text)
                for path in parsed.referencedPaths where path.first != "message" {
                    report(
                        "\(field).filter", fields["filter"]?.line,
                        "reads \(path.joined(separator: ".")), but a trigger's filter can read only message")
                }
                filter = parsed
            } catch {
                report("\(field).filter", fields["filter"]?.line, "invalid expression: \(error)")
            }
        }
        guard issues.count == issueCount, let connector else { return nil }
        return WorkflowTrigger(connector: connector, input: input, filter: filter)
    }
}

/// Which registered workflows a message at a connector starts: the `triggers:` of the latest
/// version of each of a tenant's workflows, read at most once a second per tenant (so a changed
/// workflow takes effect within a second), each version's section parsed once.
public final class WorkflowTriggerIndex: Sendable {
    /// A workflow's trigger on one connector.
    public struct Target: Sendable, Hashable {
        public var workflow: String
        public var trigger: WorkflowTrigger
    }

    private struct TenantTriggers {
        var loadedAt: ContinuousClock.Instant
        var byConnector: [String: [Target]]
    }

    /// How long a tenant's triggers are used before they are read again.
    public static let lifetime = Duration.seconds(1)

    private let store: any WorkflowStore
    private let tenants = BoundedCache<TenantTriggers>(capacity: 10_000)
    /// Parsed sections by source digest: a stored version never changes.
    private let sections = BoundedCache<[WorkflowTrigger]>(capacity: 10_000)

    public init(store: any WorkflowStore) { self.store = store }

    /// The workflows whose latest version triggers on `connector`, by workflow name.
    public func targets(on connector: String, tenant: String) async throws -> [Target] {
        try await triggers(of: tenant).byConnector[connector] ?? []
    }

    /// The connectors of `tenant` that some workflow triggers on.
    public func connectors(tenant: String) async throws -> Set<String> {
        Set(try await triggers(of: tenant).byConnector.keys)
    }

    /// Forgets what is known of `tenant`'s triggers: the next message reads them again (after
    /// this process registered a workflow).
    public func forget(tenant: String) { tenants.forget(tenant) }

    private func triggers(of tenant: String) async throws -> TenantTriggers {
        if let known = tenants.value(for: tenant), ContinuousClock.now - known.loadedAt < Self.lifetime {
            return known
        }
        var byConnector: [String: [Target]] = [:]
        for record in try await store.workflows(tenant: tenant) {
            let triggers = sections.value(for: record.sha256) { Self.triggers(in: record) }
            for trigger in triggers {
                byConnector[trigger.connector, default: []].append(Target(workflow: record.name, trigger: trigger))
            }
        }
        let loaded = TenantTriggers(loadedAt: .now, byConnector: byConnector)
        tenants.keep(loaded, for: tenant)
        return loaded
    }

    /// A stored version's triggers; none when its source no longer parses (it did when it was
    /// registered, so only a changed parser could make it fail).
    private static func triggers(in record: WorkflowRecord) -> [WorkflowTrigger] {
        guard record.source.contains("triggers"),
            case .success(let root) = YAMLSource.parse(record.source, file: record.name)
        else { return [] }
        return (try? TriggersSection.parse(root, file: record.name)) ?? []
    }
}
