import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// Runs one ``MessageConsumer`` for every queue connector (`sqs`, `servicebus`) with a `trigger`,
/// in every tenant: looks the connectors up every `lookupInterval`, starts consumers for new ones,
/// restarts those whose definition changed and stops those removed. A consumer whose connector
/// cannot be opened (a secret unset, no credentials) logs why and tries again a lookup later.
public struct ConnectorConsumers: Sendable {
    let store: any WorkflowStore
    let engine: @Sendable (String) -> Engine
    let dispatch: TriggerDispatch
    let access: ConnectorAccess
    let secrets: SecretBox?
    let lookupInterval: Duration
    let logger: Logger

    /// Consumers on `store`'s connectors; `engine` gives a tenant's engine, whose runs and signals
    /// `dispatch` starts.
    public init(
        store: any WorkflowStore, engine: @escaping @Sendable (String) -> Engine, dispatch: TriggerDispatch,
        access: ConnectorAccess, secrets: SecretBox?, lookupInterval: Duration = .seconds(5), logger: Logger
    ) {
        self.store = store
        self.engine = engine
        self.dispatch = dispatch
        self.access = access
        self.secrets = secrets
        self.lookupInterval = lookupInterval
        self.logger = logger
    }

    /// The connector types that have consumers.
    static let queueKinds: [ConnectorDefinition.Kind] = [.sqs]

    private struct Running {
        var updatedAt: Date
        var task: Task<Void, Never>
    }

    /// Consumes until cancelled; then stops every consumer and waits for them.
    public func run() async {
        var running: [String: Running] = [:]
        while !Task.isCancelled {
            do {
                let connectors = try await store.connectors(ofKinds: Self.queueKinds.map(\.rawValue))
                var wanted: [String: ConnectorRecord] = [:]
                for connector in connectors where connector.settings["trigger"].flatMap(Trigger.init) != nil {
                    wanted[connector.tenant + "\u{0}" + connector.name] = connector
                }
                for (key, consumer) in running
                where wanted[key]?.updatedAt != consumer.updatedAt {
                    consumer.task.cancel()
                    await consumer.task.value
                    running[key] = nil
                }
                for (key, connector) in wanted where running[key] == nil {
                    running[key] = Running(updatedAt: connector.updatedAt, task: Task { await consume(connector) })
                }
            } catch {
                logger.warning("cannot look up queue connectors", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: lookupInterval)
        }
        for consumer in running.values { consumer.task.cancel() }
        for consumer in running.values { await consumer.task.value }
    }

    /// One connector's consumer, until cancelled or until it cannot be opened.
    private func consume(_ record: ConnectorRecord) async {
        var logger = logger
        logger[metadataKey: "tenant"] = "\(record.tenant)"
        logger[metadataKey: "connector"] = "\(record.name)"
        guard let trigger = record.settings["trigger"].flatMap(Trigger.init),
            let kind = ConnectorDefinition.Kind(rawValue: record.kind)
        else { return }
        let engine = engine(record.tenant)
        while !Task.isCancelled {
            do {
                let queue = try await open(record, kind: kind)
                logger.info("consuming the connector's queue")
                await MessageConsumer(
                    tenant: record.tenant, connector: record.name, source: record.kind, queue: queue,
                    trigger: trigger, dispatch: dispatch, engine: engine
                ).run(logger: logger)
                return
            } catch {
                logger.error(
                    "the connector's queue cannot be consumed; trying again",
                    metadata: ["error": "\(error)", "retry_in": "\(lookupInterval)"])
                try? await Task.sleep(for: lookupInterval)
            }
        }
    }

    /// The connector's queue, its secrets opened.
    private func open(_ record: ConnectorRecord, kind: ConnectorDefinition.Kind) async throws -> any MessageQueue {
        let settings = try await ResolvedConnector.resolve(
            record, kind: kind, resolver: SecretResolver(store: store, box: secrets), caller: record.kind
        ).settings
        switch kind {
        case .sqs:
            return SQSQueue(client: try SQSClient(settings: settings, access: access), settings: settings)
        case .webhook, .servicebus:
            throw AgentFailure("\(kind.rawValue) connectors have no queue consumer", retryable: false)
        }
    }
}
