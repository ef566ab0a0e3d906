import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// Runs the long-lived work of every tenant's connectors: a ``MessageConsumer`` for each queue
/// connector (`sqs`, `servicebus`) with a `trigger` or named by a workflow's `triggers:`, and a ``Subscriber`` for each connector with a
/// `subscription`. Looks the connectors up every `lookupInterval`, starts workers for new ones,
/// restarts those whose definition changed and stops those removed. Each worker is on its own,
/// so a slow or dead connector holds up only itself; one that cannot be opened (a secret unset,
/// no credentials) logs why and tries again a lookup later.
public struct ConnectorWorkers: Sendable {
    let store: any WorkflowStore
    let engine: @Sendable (String) -> Engine
    let dispatch: TriggerDispatch
    /// The workflows' `triggers:`, shared with the server's inbound webhooks.
    let triggers: WorkflowTriggerIndex
    let access: ConnectorAccess
    let secrets: SecretBox?
    let lookupInterval: Duration
    /// Signalled when events are committed, so subscribers forward them at once.
    let commits: WakeSignal?
    let logger: Logger

    /// Workers on `store`'s connectors; `engine` gives a tenant's engine, whose runs and signals
    /// `dispatch` starts along the connectors' routes (their triggers and `triggers`).
    public init(
        store: any WorkflowStore, engine: @escaping @Sendable (String) -> Engine, dispatch: TriggerDispatch,
        triggers: WorkflowTriggerIndex,
        access: ConnectorAccess, secrets: SecretBox?, lookupInterval: Duration = .seconds(5), commits: WakeSignal?,
        logger: Logger
    ) {
        self.store = store
        self.engine = engine
        self.dispatch = dispatch
        self.triggers = triggers
        self.access = access
        self.secrets = secrets
        self.lookupInterval = lookupInterval
        self.commits = commits
        self.logger = logger
    }

    /// How soon a subscriber's lane with nothing to do looks again (due retries, events committed
    /// by other processes): a quarter second, doubling while it stays idle up to two seconds.
    /// An event committed meanwhile wakes it at once where the process hears of commits.
    static let idlePolls = (first: Duration.milliseconds(250), longest: Duration.seconds(2))
    /// How long a subscriber keeps one opened channel (resolved secrets, a pinned address).
    static let channelLifetime: TimeInterval = 60

    /// The types whose messages a consumer takes from a queue.
    static let queueKinds: Set<String> = [
        ConnectorDefinition.Kind.sqs.rawValue, ConnectorDefinition.Kind.servicebus.rawValue,
    ]

    private enum Role: String {
        case consumer, subscriber
    }

    private struct Running {
        var updatedAt: Date
        var task: Task<Void, Never>
    }

    /// Works until cancelled; then stops every worker and waits for them.
    public func run() async {
        var running: [String: Running] = [:]
        while !Task.isCancelled {
            do {
                var wanted: [String: (ConnectorRecord, Role)] = [:]
                var triggered: [String: Set<String>] = [:]
                for connector in try await store.connectors(ofKinds: ConnectorDefinition.Kind.allCases.map(\.rawValue))
                {
                    let key = connector.tenant + "\u{0}" + connector.name + "\u{0}"
                    let queued = Self.queueKinds.contains(connector.kind)
                    if queued, connector.settings["trigger"].flatMap(Trigger.init) == nil,
                        triggered[connector.tenant] == nil
                    {
                        triggered[connector.tenant] = try await triggers.connectors(tenant: connector.tenant)
                    }
                    if queued,
                        connector.settings["trigger"].flatMap(Trigger.init) != nil
                            || triggered[connector.tenant]?.contains(connector.name) == true
                    {
                        wanted[key + Role.consumer.rawValue] = (connector, .consumer)
                    }
                    if connector.settings["subscription"] != nil {
                        wanted[key + Role.subscriber.rawValue] = (connector, .subscriber)
                    }
                }
                for (key, worker) in running where wanted[key]?.0.updatedAt != worker.updatedAt {
                    worker.task.cancel()
                    await worker.task.value
                    running[key] = nil
                }
                for (key, (connector, role)) in wanted where running[key] == nil {
                    let task = Task {
                        switch role {
                        case .consumer: await consume(connector)
                        case .subscriber: await subscribe(connector)
                        }
                    }
                    running[key] = Running(updatedAt: connector.updatedAt, task: task)
                }
            } catch {
                logger.warning("cannot look up connectors", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: lookupInterval)
        }
        for worker in running.values { worker.task.cancel() }
        for worker in running.values { await worker.task.value }
    }

    private func logger(for record: ConnectorRecord) -> Logger {
        var logger = logger
        logger[metadataKey: "tenant"] = "\(record.tenant)"
        logger[metadataKey: "connector"] = "\(record.name)"
        return logger
    }

    /// One queue connector's consumer, until cancelled.
    private func consume(_ record: ConnectorRecord) async {
        let logger = logger(for: record)
        let (triggers, engine) = (triggers, engine(record.tenant))
        while !Task.isCancelled {
            do {
                let queue = try await queue(of: record)
                logger.info("consuming the connector's queue")
                await MessageConsumer(
                    tenant: record.tenant, connector: record.name, source: record.kind, queue: queue,
                    routes: { try await TriggerRoutes.of(record, index: triggers) }, dispatch: dispatch, engine: engine
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

    /// One connector's subscriber, until cancelled: forwards what is new and attempts what is
    /// due in each of its lanes, which wait for committed events (or a quarter second) when they
    /// had nothing to do.
    private func subscribe(_ record: ConnectorRecord) async {
        let logger = logger(for: record)
        guard let subscriber = Subscriber(store: store, record: record) else { return }
        while !Task.isCancelled {
            // A channel that cannot be opened (an address the policy refuses, a secret unset)
            // fails each due delivery with the reason, so the tenant sees it in the deliveries
            // and the retry schedule runs its course; it is opened again a lookup later.
            let channel: any DeliveryChannel
            let lifetime: TimeInterval
            do {
                channel = try await open(record, connections: subscriber.concurrency)
                lifetime = Self.channelLifetime
            } catch {
                logger.error(
                    "the connector's subscription cannot deliver; its due deliveries fail until it can",
                    metadata: ["error": "\(error)", "retry_in": "\(lookupInterval)"])
                channel = UnreachableChannel(reason: "\(error)")
                lifetime =
                    lookupInterval.timeInterval
            }
            do {
                try await deliver(
                    subscriber, through: channel, until: Date().addingTimeInterval(lifetime), logger: logger)
            } catch {
                if !Task.isCancelled {
                    logger.error(
                        "the connector's subscription cannot deliver; trying again",
                        metadata: ["error": "\(error)", "retry_in": "\(lookupInterval)"])
                    try? await Task.sleep(for: lookupInterval)
                }
            }
            await channel.close()
        }
    }

    /// Attempts what is due through `channel` in each of the subscriber's lanes until `reopen`,
    /// the first lane also forwarding what is new from the log; a lane with nothing to do waits
    /// for committed events or its idle poll (``idlePolls``).
    private func deliver(
        _ subscriber: Subscriber, through channel: any DeliveryChannel, until reopen: Date, logger: Logger
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (lane, concurrency) in subscriber.lanes.enumerated() {
                group.addTask {
                    var poll = Self.idlePolls.first
                    while !Task.isCancelled && Date() < reopen {
                        let seen = commits?.generation ?? 0
                        let (enqueued, paused) =
                            lane == 0
                            ? try await subscriber.enqueue(now: Date())
                            : (0, try await subscriber.isPaused())
                        let attempted =
                            paused
                            ? 0
                            : try await subscriber.deliverDue(
                                through: channel, now: Date(), concurrency: concurrency, logger: logger)
                        if enqueued == 0 && attempted == 0 {
                            await idle(after: seen, atMost: poll)
                            poll = min(poll * 2, Self.idlePolls.longest)
                        } else {
                            poll = Self.idlePolls.first
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// One pass over the tenant's subscriptions, for a process that does not stay (a Lambda
    /// function): each subscribed connector forwards what is new in the log and attempts what is
    /// due until nothing due now is left (a failed delivery waits for its retry, a paused
    /// subscription for an operator). How many deliveries were attempted.
    public func deliverDue(tenant: String) async throws -> Int {
        var attempted = 0
        for record in try await store.connectors(tenant: tenant) {
            guard let subscriber = Subscriber(store: store, record: record) else { continue }
            let logger = logger(for: record)
            let channel: any DeliveryChannel
            do {
                channel = try await open(record, connections: subscriber.concurrency)
            } catch {
                logger.error("the connector's subscription cannot deliver", metadata: ["error": "\(error)"])
                channel = UnreachableChannel(reason: "\(error)")
            }
            do {
                while !Task.isCancelled {
                    let (enqueued, paused) = try await subscriber.enqueue(now: Date())
                    if paused { break }
                    let done = try await subscriber.deliverDue(through: channel, now: Date(), logger: logger)
                    attempted += done
                    if enqueued == 0 && done == 0 { break }
                }
            } catch {
                await channel.close()
                throw error
            }
            await channel.close()
        }
        return attempted
    }

    /// Waits for events committed after generation `seen`, or `limit`.
    private func idle(after seen: UInt64, atMost limit: Duration) async {
        if let commits {
            await commits.wait(after: seen, atMost: limit)
        } else {
            try? await Task.sleep(for: limit)
        }
    }

    /// The connector's type and settings, its secrets opened.
    private func resolve(_ record: ConnectorRecord) async throws -> (ConnectorDefinition.Kind, ResolvedConnector) {
        guard let kind = ConnectorDefinition.Kind(rawValue: record.kind) else {
            throw AgentFailure("connector \(record.name) has an unknown type \(record.kind)", retryable: false)
        }
        let resolved = try await ResolvedConnector.resolve(
            record, kind: kind, resolver: SecretResolver(store: store, box: secrets), caller: record.kind)
        return (kind, resolved)
    }

    /// The queue the connector's consumer takes messages from.
    private func queue(of record: ConnectorRecord) async throws -> any MessageQueue {
        let (kind, resolved) = try await resolve(record)
        switch kind {
        case .sqs:
            return SQSQueue(
                client: try SQSClient(settings: resolved.settings, access: access), settings: resolved.settings)
        case .servicebus:
            return ServiceBusQueue(
                client: try ServiceBusClient(settings: resolved.settings, access: access), settings: resolved.settings)
        case .webhook:
            throw AgentFailure("a webhook connector's messages arrive at /v1/hooks, not from a queue", retryable: false)
        case .sap, .oracle, .slack, .teams, .jira:
            throw AgentFailure("a \(kind.rawValue) connector has no queue to take messages from", retryable: false)
        }
    }

    /// Where the connector's subscription delivers, its secrets opened; a webhook's client keeps
    /// up to `connections` connections.
    private func open(_ record: ConnectorRecord, connections: Int) async throws -> any DeliveryChannel {
        let (kind, resolved) = try await resolve(record)
        switch kind {
        case .webhook:
            guard let url = record.settings["url"]?.stringValue.flatMap(URL.init(string:)) else {
                throw AgentFailure("connector \(record.name) has no url", retryable: false)
            }
            return WebhookChannel(
                client: try await OutboundHTTP(policy: access.policy).client(
                    for: url, method: "POST", by: "subscription", connections: connections),
                url: url, settings: resolved.settings, scrubber: resolved.scrubber)
        case .sqs:
            return SQSChannel(
                client: try SQSClient(settings: resolved.settings, access: access), scrubber: resolved.scrubber)
        case .servicebus:
            return ServiceBusChannel(
                client: try ServiceBusClient(settings: resolved.settings, access: access), scrubber: resolved.scrubber)
        case .slack:
            guard let channel = record.settings["channel"]?.stringValue else {
                throw AgentFailure("connector \(record.name) has no channel to post in", retryable: false)
            }
            return SlackChannel(
                client: try await SlackClient(settings: resolved.settings, policy: access.policy), channel: channel,
                scrubber: resolved.scrubber)
        case .teams:
            return TeamsChannel(
                webhook: try await TeamsWebhook(settings: resolved.settings, policy: access.policy),
                console: record.settings["console_url"]?.stringValue.flatMap(URL.init(string:)),
                scrubber: resolved.scrubber)
        case .jira:
            return JiraChannel(
                jira: try await JiraClient(settings: resolved.settings, policy: access.policy),
                project: record.settings["project"]?.stringValue ?? "",
                issueType: record.settings["issue_type"]?.stringValue ?? "Task", scrubber: resolved.scrubber)
        case .sap, .oracle:
            guard let value = record.settings["export"],
                case .success(let export) = SettlementExport.parse(value, kind: kind)
            else {
                throw AgentFailure(
                    "connector \(record.name) has a subscription but no export to turn settlements into invoices",
                    retryable: false)
            }
            return try await SettlementExportChannel.open(
                record, resolved, export: export, store: store, policy: access.policy)
        }
    }
}
