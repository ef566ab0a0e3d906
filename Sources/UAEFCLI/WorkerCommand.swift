import ArgumentParser
import Dispatch
import Foundation
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// `uaef worker`: executes runs, and attempts other workers queued for its capabilities, from a
/// shared store until stopped.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Execute runs from the store, alongside other workers, until stopped (SIGINT or SIGTERM).",
        discussion: """
            Start any number of workers on one PostgreSQL store (uaef submit creates the runs). Each \
            claims runs with a lease (FOR UPDATE SKIP LOCKED), renews it while it executes them, and \
            takes over runs whose lease expired or whose holder on this machine died. A worker whose \
            lease was taken over cannot commit: its writes are fenced by the lease's generation. After \
            runs end it settles their outcomes and signs a checkpoint (give every node the same \
            --ledger-key). While the store is unreachable it retries with backoff. A run executes on \
            one worker at a time; many runs spread over many workers.

            With --capability (repeatable) the worker executes only the attempts of tasks that ask \
            for one of those capabilities: an attempt of another capability, in a run it orchestrates, \
            is queued in the store for a worker that serves it, and this worker in turn executes the \
            attempts others queued for its capabilities (claimed with a lease and a generation, \
            heartbeated every second). A worker without --capability serves every capability. Tasks \
            that name an agent kind instead of a capability, approvals and remote agents' tasks run \
            where their run is orchestrated.

            With --connectors it also does what uaef serve does for every tenant's connectors: \
            consumes SQS and Service Bus connectors with triggers (the runs they start are left for \
            any runner of their tenant to claim) and delivers subscriptions. Any number of workers \
            and servers may do so at once: queue messages are shared out by the broker, deliveries \
            are claimed under a lease. See docs/connectors.md.

            With --schedules it also fires every tenant's due schedules, as uaef serve does (the runs \
            they start are left for any runner of their tenant to claim). Any number of workers and \
            servers may do so at once: a schedule is fired by the one process holding its claim, and \
            each slot starts one run. See docs/schedules.md.

            On SIGINT or SIGTERM it stops claiming, cancels its attempts and exits within 10 s. \
            Prints one line per ended run (--json: one JSON object per line, {"run_id", "status"}) \
            and one per attempt executed for another worker's run ({"run_id", "key", "attempt", \
            "capability", "outcome"}); exit 0 when stopped.
            """)

    @Option(help: "Runs executed at once by this worker.") var concurrency: Int = 16
    @Flag(help: "Also consume queue connectors and deliver subscriptions, as uaef serve does.")
    var connectors = false
    @Flag(help: "Also fire the tenants' due schedules, as uaef serve does.")
    var schedules = false

    @OptionGroup var capabilityOptions: CapabilityOptions
    @OptionGroup var hostAccess: HostAccessOptions

    /// How long a stop request waits for the worker to wind down before the process exits.
    static let stopGracePeriod: Double = 10
    @Flag(help: "Print JSON Lines.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        // Stop on SIGINT or SIGTERM, also while still waiting for the database: the worker cancels
        // its attempts and leaves its runs to be claimed again (by a worker on this machine at
        // once, elsewhere when the lease expires).
        let kinds = try hostAccess.kinds(granting: .anyTask)
        let access = try hostAccess.connectorAccess()
        do {
            try await StopSignals.cancelling(
                { [engineOptions, served = capabilityOptions.served, concurrency, json, connectors, schedules] in
                    try await Self.work(
                        engineOptions: engineOptions, kinds: kinds, connectors: access, served: served,
                        concurrency: concurrency, runsConnectors: connectors, firesSchedules: schedules, json: json)
                },
                onSignal: {
                    // Everything is durable at every step, so a stop that takes too long (an attempt
                    // that ignores cancellation, a store call that hangs) ends the process anyway.
                    DispatchQueue.global().asyncAfter(deadline: .now() + Self.stopGracePeriod) {
                        Console.warn("uaef worker: did not stop within \(Int(Self.stopGracePeriod)) s; exiting")
                        Foundation.exit(0)
                    }
                })
        } catch is CancellationError {
            // Stopped before the database answered: nothing was claimed.
        }
    }

    /// Opens the store (waiting for a database that is down or restarting) and executes runs and
    /// queued attempts until cancelled.
    private static func work(
        engineOptions: EngineOptions, kinds: AgentKindRegistry, connectors: ConnectorAccess, served: Set<String>?,
        concurrency: Int, runsConnectors: Bool, firesSchedules: Bool, json: Bool
    ) async throws {
        try await engineOptions.withEngine(capabilities: served, waiting: true, kinds: kinds, connectors: connectors) {
            engine in
            let connectorWorkers =
                runsConnectors
                ? ConnectorWorkers(
                    store: engine.store, engine: { engine.forTenant($0) }, dispatch: .queueing,
                    triggers: WorkflowTriggerIndex(store: engine.store), access: connectors,
                    secrets: engine.configuration.secrets, commits: nil, logger: engine.logger) : nil
            await withDiscardingTaskGroup { group in
                if let connectorWorkers { group.addTask { await connectorWorkers.run() } }
                if firesSchedules { group.addTask { await Scheduler(engine: engine, leased: false).run() } }
                group.addTask {
                    await work(
                        engine, storeOptions: engineOptions.storeOptions, served: served, concurrency: concurrency,
                        json: json)
                }
            }
        }
    }

    /// Executes runs and queued attempts until cancelled.
    private static func work(
        _ engine: Engine, storeOptions: StoreOptions, served: Set<String>?, concurrency: Int, json: Bool
    ) async {
        var worker = Engine.WorkerConfiguration()
        worker.maxRuns = concurrency
        worker.maxQueuedAttempts = concurrency
        // Woken by the store when work is submitted, released or queued, a worker polls only for
        // what nobody announces: leases that expired.
        let forwardNotifications = worker.wakingUp(on: engine.store.workNotifications())
        await withDiscardingTaskGroup { [worker] group in
            if let forwardNotifications { group.addTask(operation: forwardNotifications) }
            group.addTask {
                await engine.work(worker) { event in
                    await Self.report(event, engine: engine, storeOptions: storeOptions, json: json)
                }
            }
            group.addTask {
                await engine.executeQueuedAttempts(capabilities: served.map { $0.sorted() }, worker) { event in
                    Self.report(event, json: json)
                }
            }
        }
    }

    /// Prints an attempt executed for another worker's run, or a failed claim.
    private static func report(_ event: Engine.QueuedAttemptEvent, json: Bool) {
        switch event {
        case .finished(let task, let result):
            let outcome =
                switch result {
                case .succeeded: "succeeded"
                case .failed: "failed"
                case .timedOut: "timed_out"
                }
            print(
                json
                    ? JSONValue.object([
                        "run_id": .string(task.runID.rawValue), "key": .string(task.key),
                        "attempt": .number(Number(task.attempt)),
                        "capability": task.capability.map(JSONValue.string) ?? .null, "outcome": .string(outcome),
                    ]).jsonText
                    : "\(task.runID)  \(task.key)  attempt \(task.attempt)  \(outcome)")
            fflush(nil)
        case .leaseLost(let task):
            Console.warn(
                "uaef worker: attempt \(task.attempt) of \(task.runID)/\(task.key) ended elsewhere (timed out, cancelled or taken over); its outcome here was not recorded"
            )
        case .released(let task):
            Console.warn(
                "uaef worker: stopping; attempt \(task.attempt) of \(task.runID)/\(task.key) is queued again for another worker"
            )
        case .claimFailed(let error, let retryIn):
            Console.warn(
                "uaef worker: cannot claim queued attempts, retrying in \(retryIn.formatted(.units(allowed: [.seconds, .milliseconds]))): \(error)"
            )
        }
    }

    /// Prints what happened; after runs end, settles and signs a checkpoint.
    private static func report(
        _ event: Engine.WorkerEvent, engine: Engine, storeOptions: StoreOptions, json: Bool
    ) async {
        switch event {
        case .runsEnded(let statuses):
            for id in statuses.keys.sorted() {
                let status = statuses[id]!.rawValue
                print(
                    json
                        ? JSONValue.object(["run_id": .string(id.rawValue), "status": .string(status)]).jsonText
                        : "\(id)  \(status)")
            }
            // A worker's output is read as it goes (often from a file or a pipe).
            fflush(nil)
            do {
                try await LedgerKeys.settleAndCheckpoint(engine, storeOptions)
            } catch is CancellationError {
                // Stopping: the next worker to end runs settles these too.
            } catch {
                Console.warn(
                    "uaef worker: settling or signing after runs ended failed (the next batch retries): \(error)")
            }
        case .batchAbandoned(let runs, let error):
            Console.warn(
                "uaef worker: stopped executing \(runs.map(\.rawValue).joined(separator: ", ")) (they will be claimed again): \(error)"
            )
        case .claimFailed(let error, let retryIn):
            Console.warn(
                "uaef worker: cannot claim runs, retrying in \(retryIn.formatted(.units(allowed: [.seconds, .milliseconds]))): \(error)"
            )
        }
    }
}
