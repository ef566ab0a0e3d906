import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFSettlement
import UAEFStore

/// What the server executes with: one engine per tenant on one store, and what to do once a
/// tenant's runs have ended (settle, sign a checkpoint).
public struct ServerRuntime: Sendable {
    /// The engine whose store, agent kinds and settings every tenant shares.
    public let engine: Engine
    /// Signs the ledger's checkpoints (the key `uaef ledger key` prints).
    public let signer: NoteSigner
    /// The JSON text of ended runs' reports by tenant and id: clients poll for them, and only a
    /// redaction or a retry changes an ended run, which ``ReportCacheInvalidator`` sees in the
    /// event log (whichever node made it) and drops the run's entry for.
    let finishedRuns = BoundedCache<String>(capacity: 10_000)
    /// Counts the redactions and retries of ended runs seen, so a report rendered meanwhile is
    /// not cached.
    let endedRunsChanged = WakeSignal()

    /// The key of a run's entry in ``finishedRuns``.
    static func reportKey(tenant: String, run: String) -> String { tenant + "\u{0}" + run }
    /// The store's work notifications (PostgreSQL), which ``wakeups`` relays to the workers and to
    /// remote agents' long polls; nil when the store has none.
    let notifications: AsyncStream<Void>?
    let wakeups: WakeSignal?
    /// Signalled when events are committed (``EventCommitRelay`` relays the store's
    /// notifications), so live event streams read them at once.
    let eventCommits = WakeSignal()
    let eventNotifications: AsyncStream<Void>
    /// The registered workflows' `triggers:`, read by inbound webhooks and queue consumers.
    public let workflowTriggers: WorkflowTriggerIndex

    public init(engine: Engine, signer: NoteSigner) {
        self.engine = engine
        self.signer = signer
        workflowTriggers = WorkflowTriggerIndex(store: engine.store)
        notifications = engine.store.workNotifications()
        wakeups = notifications.map { _ in WakeSignal() }
        eventNotifications = engine.store.eventNotifications()
    }

    /// Settles the tenant's new outcomes and signs a checkpoint of the tree as it now is.
    func afterRunsEnd(_ engine: Engine) async throws {
        _ = try await engine.settle()
        _ = try await Checkpointer(store: engine.store, signer: signer).checkpoint()
    }

    func engine(for tenant: String) -> Engine { engine.forTenant(tenant) }
}

/// Executes the runs the API starts, as soon as they are created, in this process: the runs that
/// arrive within a millisecond of each other are executed together by one runner (per tenant),
/// whose commits cover all of them. On shutdown it cancels them, which leaves them resumable
/// (their leases are taken over by the next server or worker on this machine at once, elsewhere
/// when they expire).
final class RunExecutor: Service, Sendable {
    struct Job {
        var run: RunRecord
        var definition: WorkflowDefinition
        var engine: Engine
    }

    private let queue = Mutex<[Job]>([])
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let ledgerChanges: LedgerChanges
    /// How long the first run of a batch waits for others to join it.
    private let gathering: Duration = .milliseconds(1)

    init(ledgerChanges: LedgerChanges) {
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.ledgerChanges = ledgerChanges
    }

    /// Starts executing a run this process has just created, holding its lease.
    func execute(_ run: RunRecord, definition: WorkflowDefinition, engine: Engine) {
        queue.withLock { $0.append(Job(run: run, definition: definition, engine: engine)) }
        wake.yield()
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await _ in self.wakeups {
                    try? await Task.sleep(for: self.gathering)
                    let jobs = self.queue.withLock { queue in
                        defer { queue = [] }
                        return queue
                    }
                    for batch in Dictionary(grouping: jobs, by: \.engine.tenant).values {
                        group.addTask { await self.execute(batch) }
                    }
                }
            }
        }
    }

    private func execute(_ batch: [Job]) async {
        guard let engine = batch.first?.engine else { return }
        let definitions = Dictionary(batch.map { ($0.run.id, $0.definition) }) { first, _ in first }
        let created = Dictionary(batch.map { ($0.run.id, $0.run) }) { first, _ in first }
        do {
            _ = try await engine.execute(batch.map(\.run.id), definitions: definitions, created: created)
            await ledgerChanges.mark(engine.tenant)
        } catch {
            if !(error is CancellationError) {
                engine.logger.warning(
                    "runs stopped before they ended; they will be resumed",
                    metadata: ["runs": "\(batch.map(\.run.id.rawValue))", "error": "\(error)"])
            }
        }
    }
}

/// Tenants whose runs ended, or whose settlements were decided, since their last settlement pass
/// and checkpoint.
actor LedgerChanges {
    private var tenants: Set<String> = []

    func mark(_ tenant: String) { tenants.insert(tenant) }

    func take() -> Set<String> {
        defer { tenants = [] }
        return tenants
    }
}

/// Settles and signs checkpoints for tenants whose runs ended, twice a second at most, so a burst
/// of runs costs one pass.
struct SettlementService: Service {
    let runtime: ServerRuntime
    let ledgerChanges: LedgerChanges
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                for tenant in await ledgerChanges.take().sorted() {
                    do {
                        try await runtime.afterRunsEnd(runtime.engine(for: tenant))
                    } catch is CancellationError {
                        return
                    } catch {
                        await ledgerChanges.mark(tenant)
                        runtime.engine.logger.warning(
                            "settling after runs ended failed; retrying",
                            metadata: ["tenant": "\(tenant)", "error": "\(error)"])
                    }
                }
            }
        }
    }
}

/// Executes runs the API did not start itself (from `uaef submit`, or left by a stopped or
/// crashed process): one claiming worker per tenant that has unfinished runs, looked up every
/// few seconds.
struct TenantWorkers: Service {
    let runtime: ServerRuntime
    let ledgerChanges: LedgerChanges
    let lookupInterval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // Woken by the store when work is submitted, released or queued (PostgreSQL), the
                // workers poll only for expired leases; without notifications they poll often.
                var pacing = Engine.WorkerConfiguration()
                if let wakeups = runtime.wakeups, let notifications = runtime.notifications {
                    pacing.waking(with: wakeups)
                    group.addTask { await wakeups.forward(notifications) }
                }
                var working: Set<String> = []
                while !Task.isCancelled {
                    do {
                        for tenant in try await runtime.engine.store.tenantsWithUnfinishedRuns()
                        where !working.contains(tenant) {
                            working.insert(tenant)
                            let engine = runtime.engine(for: tenant)
                            let ledgerChanges = ledgerChanges
                            group.addTask { [pacing] in
                                await engine.work(pacing) { event in
                                    if case .runsEnded = event { await ledgerChanges.mark(tenant) }
                                }
                            }
                            // Attempts other processes queued for the capabilities this one serves.
                            let served = engine.configuration.capabilities.map { $0.sorted() }
                            group.addTask { [pacing] in
                                await engine.executeQueuedAttempts(capabilities: served, pacing) { event in
                                    if case .claimFailed(let error, _) = event {
                                        engine.logger.warning("cannot claim queued attempts: \(error)")
                                    }
                                }
                            }
                        }
                    } catch {
                        runtime.engine.logger.warning("cannot list tenants with unfinished runs: \(error)")
                    }
                    try? await Task.sleep(for: lookupInterval)
                }
            }
        }
    }
}

/// Relays the store's notifications of committed events to ``ServerRuntime/eventCommits``.
/// Drops cached reports of ended runs a redaction or a retry changed: follows the event log's headers (no event
/// data is read) from where it stood at start, woken by each commit of events (every node's on
/// PostgreSQL; this process's on SQLite, and other processes' within `pollInterval`).
struct ReportCacheInvalidator: Service {
    let runtime: ServerRuntime
    let pollInterval: Duration

    func run() async throws {
        let store = runtime.engine.store
        let start = Int64(try await store.treeHead().size)
        await cancelWhenGracefulShutdown {
            var next = start
            while !Task.isCancelled {
                let seen = runtime.eventCommits.generation
                do {
                    let headers = try await store.eventHeaders(from: next, limit: 1000)
                    for header in headers where header.type == "payload.redacted" || header.type == "run.retried" {
                        let run = String(header.subject.prefix { $0 != "/" })
                        runtime.endedRunsChanged.signal()
                        runtime.finishedRuns.remove(ServerRuntime.reportKey(tenant: header.tenant, run: run))
                    }
                    if let last = headers.last { next = last.seq + 1 }
                    if headers.count == 1000 { continue }
                } catch  where !Task.isCancelled {
                    runtime.engine.logger.warning(
                        "the report cache could not follow the event log", metadata: ["error": "\(error)"])
                } catch {
                    return
                }
                await runtime.eventCommits.wait(after: seen, atMost: pollInterval)
            }
        }
    }
}

/// Keeps the analytics buckets current (``AnalyticsRollup``): counts new events as they are
/// committed, at most every `pause` so a busy log costs one transaction per pause, and at least
/// every `pollInterval` (other processes' commits on SQLite).
struct AnalyticsService: Service {
    let runtime: ServerRuntime
    let pollInterval: Duration
    var pause: Duration = .milliseconds(200)

    func run() async throws {
        let rollup = AnalyticsRollup(store: runtime.engine.store)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let seen = runtime.eventCommits.generation
                do {
                    try await rollup.catchUp()
                } catch  where !Task.isCancelled {
                    runtime.engine.logger.warning(
                        "analytics could not count new events; retrying", metadata: ["error": "\(error)"])
                } catch {
                    return
                }
                try? await Task.sleep(for: pause)
                await runtime.eventCommits.wait(after: seen, atMost: pollInterval)
            }
        }
    }
}

struct EventCommitRelay: Service {
    let runtime: ServerRuntime

    func run() async throws {
        await cancelWhenGracefulShutdown { await runtime.eventCommits.forward(runtime.eventNotifications) }
        // Streams waiting for events wake to see the shutdown.
        runtime.eventCommits.signal()
    }
}
