import Foundation
import Logging
import UAEFCore
import UAEFLedger
import UAEFSecrets
import UAEFStore

/// Executes runs durably: feeds their state machines, commits each batch of changes with its
/// events in one transaction, then performs the actions (start, cancel, retry) the batch produced.
public struct Runner: Sendable {
    /// Runner settings; each default is written beside it.
    public struct Configuration: Sendable {
        /// Attempts executing at once in this process, across runs (default 64).
        public var maxConcurrency: Int = 64
        /// How long a run's lease lasts without renewal (default 15s).
        public var leaseDuration: Duration = .seconds(15)
        /// How often cancellation requests and agent changes are checked (default 250ms).
        public var pollInterval: Duration = .milliseconds(250)
        /// How often an attempt queued for a worker is checked for its outcome (default 50ms).
        public var queuePollInterval: Duration = .milliseconds(50)
        /// This process's identity as a lease holder: `host/pid`.
        public var owner: String = ProcessIdentity.current
        /// Where attempt outcomes and durations are counted; nil counts nothing.
        public var metrics: AttemptMetrics?
        /// The time settlement passes and decisions are made at (approval expiry, record times):
        /// the system clock unless a test sets another.
        public var clock: @Sendable () -> Date = { Date() }
        /// Opens the tenant secrets that `command` and `http` parameters name as
        /// `{"$secret": "NAME"}`; nil when no master key is configured.
        public var secrets: SecretBox?
        /// The capabilities whose tasks this process executes itself; nil (the default) serves
        /// every capability. An attempt of a task asking for another capability is queued for a
        /// worker that serves it (`uaef worker --capability`); tasks that name an agent kind, and
        /// kinds that only wait on the store, always run here.
        public var capabilities: Set<String>?

        public init() {}

        /// Whether this process executes attempts of tasks that ask for `capability` itself.
        public func serves(_ capability: String?) -> Bool {
            guard let capabilities, let capability else { return true }
            return capabilities.contains(capability)
        }
    }

    /// What the runner reports after each commit, for progress displays.
    public struct Progress: Sendable {
        /// Tasks (and fan-out instances) per status, over all runs being executed.
        public var counts: [TaskStatus: Int]
        /// Keys of attempts executing now.
        public var running: [String]
    }

    let store: any WorkflowStore
    let kinds: AgentKindRegistry
    let configuration: Configuration
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Workflow sources of runs already parsed, by digest: workers execute many runs of the same
    /// few workflows. Nil parses every run's source.
    let parsedSources: BoundedCache<WorkflowDefinition>?
    /// The engine this runner executes for, which `workflow` tasks start and execute child runs
    /// with, and which cancels the children a failed or cancelled run leaves; nil (a runner made
    /// on its own) executes no `workflow` task.
    var engine: Engine?

    public init(
        store: any WorkflowStore, kinds: AgentKindRegistry, configuration: Configuration = .init(), logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }, parsedSources: BoundedCache<WorkflowDefinition>? = nil
    ) {
        self.store = store
        self.kinds = kinds
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.parsedSources = parsedSources
    }

    enum Message: Sendable {
        case input(RunID, EngineInput)
        /// An attempt ended with writes to commit with its end, if the end is accepted.
        case finished(RunID, EngineInput, CompletionWrites)
        case attemptEnded(RunID, key: String, attempt: Int)
        case tick
    }

    /// Executes runs this process holds the lease of, until every one has ended.
    ///
    /// `definitions` may supply already-parsed workflows by run (their stored source is read
    /// otherwise), and `created` the records of runs this process has just created and not yet
    /// touched (their state is read from the store otherwise).
    public func execute(
        _ runIDs: [RunID], tenant: String, definitions: [RunID: WorkflowDefinition] = [:],
        created: [RunID: RunRecord] = [:], progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> [RunID: RunStatus] {
        try await executeToEnd(runIDs, tenant: tenant, definitions: definitions, created: created, progress: progress)
            .mapValues(\.run.status)
    }

    /// ``execute(_:tenant:definitions:created:progress:)``, returning the runs' machines as they
    /// stand at the end: their records and tasks as committed, unfinished when the task was
    /// cancelled.
    func executeToEnd(
        _ runIDs: [RunID], tenant: String, definitions: [RunID: WorkflowDefinition] = [:],
        created: [RunID: RunRecord] = [:], progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> [RunID: RunStateMachine] {
        var machines: [RunID: RunStateMachine]
        var environment: EngineEnvironment
        do {
            machines = try await loadMachines(runIDs, tenant: tenant, definitions: definitions, created: created)
            environment = EngineEnvironment(
                now: clock(), random: .system(), agents: try await loadAgents(tenant: tenant), actor: "engine",
                executionSlots: configuration.maxConcurrency,
                slotFreeKinds: Set(kinds.kinds.filter { !$0.value.takesExecutionSlot }.keys))
        } catch {
            await releaseUnloaded(runIDs, tenant: tenant)
            throw error
        }
        // Each lease as claimed: a run that ended, was retried and was claimed again (by this
        // process too) while the others here went on keeps its new lease when these are released.
        let held = LeaseFence(owner: configuration.owner, generations: machines.mapValues(\.run.leaseGeneration))
        // Cancelling ended runs' children goes on beside the loop (and on, should the loop fail).
        var cascades: [Task<Void, Never>] = []
        do {
            try await executeLoop(
                &machines, tenant: tenant, environment: &environment, mailbox: Mailbox<Message>(),
                cascades: &cascades, progress: progress)
            for cascade in cascades { await cascade.value }
        } catch {
            // Given up: any process may take these runs at once (one lost to another keeps its lease).
            try? await release(held)
            throw error
        }
        try await release(held)
        return machines
    }

    /// Cancels, in a task of its own, what child runs the ended run left unfinished (a `workflow`
    /// task's attempt that no process was executing when the run timed out, one given up on a
    /// store error); nil when its workflow cannot have started any. A run that succeeded is looked
    /// at only when it names the `workflow` kind; one that failed or was cancelled also when it
    /// asks for capabilities, whose agents may be of that kind. A failure is logged, not thrown:
    /// the run's own end is committed.
    private func cancelChildren(of machine: RunStateMachine, tenant: String) -> Task<Void, Never>? {
        let namesWorkflow = machine.definition.tasks.contains { $0.executor == .agentKind("workflow") }
        let asksCapability = machine.definition.tasks.contains {
            if case .capability = $0.executor { true } else { false }
        }
        let look = machine.run.status == .succeeded ? namesWorkflow : namesWorkflow || asksCapability
        guard let engine, look else { return nil }
        let (id, logger) = (machine.run.id, logger)
        return Task {
            do {
                try await engine.forTenant(tenant).cancelChildren(of: id, actor: "engine")
            } catch {
                logger.warning("could not cancel child runs", metadata: ["run.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Gives up `held` outside this task, which may be the one cancelled (a stopping process),
    /// where a store refuses to be called.
    private func release(_ held: LeaseFence) async throws {
        let store = store
        try await Task { try await store.releaseLeases(held) }.value
    }

    /// Gives up, best effort, the leases this process holds of runs it could not load (a store
    /// error, a workflow that no longer parses), at the generation each stands at now.
    private func releaseUnloaded(_ runIDs: [RunID], tenant: String) async {
        let (store, owner) = (store, configuration.owner)
        // Outside this task, as ``release(_:)`` does.
        await Task {
            var generations: [RunID: Int64] = [:]
            for id in runIDs {
                guard let run = try? await store.run(id, tenant: tenant), run.owner == owner else { continue }
                generations[id] = run.leaseGeneration
            }
            try? await store.releaseLeases(LeaseFence(owner: owner, generations: generations))
        }.value
    }

    /// The runner's loop: one iteration per batch of messages, until every machine has ended.
    private func executeLoop(
        _ machines: inout [RunID: RunStateMachine], tenant: String, environment: inout EngineEnvironment,
        mailbox: Mailbox<Message>, cascades: inout [Task<Void, Never>], progress: (@Sendable (Progress) -> Void)?
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var execution = Execution(runner: self, mailbox: mailbox)
            execution.spans.begin(machines.values.lazy.map(\.run))
            defer { execution.cancelAll() }
            group.addTask { [configuration] in
                while !Task.isCancelled {
                    try await Task.sleep(for: configuration.pollInterval)
                    mailbox.post(.tick)
                }
            }
            for (id, machine) in machines {
                if let timeout = machine.definition.timeout {
                    let deadline = machine.run.timeoutStart.addingTimeInterval(timeout.timeInterval)
                    group.addTask { [clock] in
                        try await Task.sleep(
                            for: .milliseconds(max(0, Int64(deadline.timeIntervalSince(clock()) * 1000))))
                        mailbox.post(.input(id, .runTimedOut))
                    }
                }
                mailbox.post(.input(id, .start))
            }
            // One iteration per batch of messages: apply them all, commit once, then act.
            while machines.values.contains(where: { !$0.isFinished }), let batch = await mailbox.takeAll() {
                environment.now = clock()
                var inputs: [(RunID, EngineInput)] = []
                var completionWrites: [String: CompletionWrites] = [:]
                var tick = false
                for message in batch {
                    switch message {
                    case .input(let id, let input): inputs.append((id, input))
                    case .finished(let id, let input, let writes):
                        inputs.append((id, input))
                        if case .attemptFinished(let key, let attempt, _) = input {
                            completionWrites[Runner.attemptID(id, key, attempt)] = writes
                        }
                    case .attemptEnded(let id, let key, let attempt):
                        execution.attemptEnded(run: id, key: key, attempt: attempt, in: &group)
                    case .tick: tick = true
                    }
                }
                if tick {
                    inputs += try await pollStore(machines, tenant: tenant, environment: &environment)
                }
                let (changes, actions) = await apply(
                    inputs, to: &machines, environment: &environment, completionWrites: completionWrites)
                try await Runner.commit(changes, to: store)
                logger.trace(
                    "committed", metadata: ["events": "\(changes.events.count)", "tasks": "\(changes.tasks.count)"])
                for (id, action) in actions {
                    if case .runFinished(let status) = action {
                        logger.info("run finished", metadata: ["run.id": "\(id)", "status": "\(status.rawValue)"])
                        if let machine = machines[id], let cascade = cancelChildren(of: machine, tenant: tenant) {
                            cascades.append(cascade)
                        }
                    }
                    execution.perform(action, run: id, record: machines[id]?.run, in: &group)
                }
                if let progress { progress(Runner.progress(of: machines)) }
            }
            group.cancelAll()
        }
    }

    /// Commits a batch. A conversation step an attempt handed over (``CompletionWrites``) whose
    /// place another attempt took meanwhile (one that outlived its cancellation) is left out and
    /// the batch committed again: its event still records the call, and the other runs' changes
    /// are not lost with it.
    static func commit(_ changes: ChangeSet, to store: any WorkflowStore) async throws {
        var changes = changes
        while true {
            do {
                return try await store.commit(changes)
            } catch let taken as ConversationStepTaken {
                let before = changes.conversationSteps.count
                changes.conversationSteps.removeAll {
                    $0.run == taken.run && $0.taskKey == taken.taskKey && $0.index == taken.index
                }
                guard changes.conversationSteps.count < before else { throw taken }
            }
        }
    }

    /// An attempt's name within a batch, under which its handed-over writes wait.
    static func attemptID(_ run: RunID, _ key: String, _ attempt: Int) -> String {
        "\(run.rawValue)/\(key)/\(attempt)"
    }

    /// The leases a commit needs this process to still hold: those of `runs`, the runs whose
    /// machines handled the batch's inputs while unfinished (only they write).
    private func fence(for runs: Set<RunID>, _ machines: [RunID: RunStateMachine]) -> LeaseFence? {
        var generations: [RunID: Int64] = [:]
        for id in runs { generations[id] = machines[id]?.run.leaseGeneration }
        return generations.isEmpty ? nil : LeaseFence(owner: configuration.owner, generations: generations)
    }

    /// The tenant's agents and what other processes run on them now.
    private func loadAgents(tenant: String) async throws -> AgentPool {
        AgentPool(
            agents: try await store.agents(tenant: tenant),
            busyElsewhere: try await store.attemptsRunningElsewhere(
                tenant: tenant, owner: configuration.owner, now: clock()))
    }

    /// A state machine per run, from what the store holds.
    private func loadMachines(
        _ runIDs: [RunID], tenant: String, definitions: [RunID: WorkflowDefinition], created: [RunID: RunRecord]
    ) async throws -> [RunID: RunStateMachine] {
        var machines: [RunID: RunStateMachine] = [:]
        var earlier: [String] = []
        for id in runIDs {
            // A run just created has no tasks or attempts yet: nothing to read.
            let snapshot: RunSnapshot
            if let run = created[id] {
                snapshot = RunSnapshot(run: run, tasks: [], attempts: [])
            } else if let stored = try await store.snapshot(of: id, tenant: tenant) {
                snapshot = stored
            } else {
                continue
            }
            let definition =
                try definitions[id].flatMap { $0.source == snapshot.run.workflowSource ? $0 : nil }
                ?? parse(snapshot.run)
            machines[id] = RunStateMachine(
                definition: definition, run: snapshot.run, tasks: snapshot.tasks, attempts: snapshot.attempts)
            earlier += snapshot.attempts.map(\.idempotencyKey)
        }
        // Every attempt in the store is an earlier process's: ended (its queued task withdrawn
        // by its own cancellation, unless that process stopped first) or cut off with it (replaced
        // at start). What they queued for remote agents and workers is withdrawn first, so no
        // claimant executes an attempt its run no longer waits for. Calls their attempts made (an
        // `llm` agent's tools, keyed by the call) stay, for the replacing attempt to take up.
        try await store.cancelRemoteTasks(idempotencyKeys: earlier, tenant: tenant, now: clock())
        return machines
    }

    /// The workflow a run was created from, parsed from its stored source (once per distinct
    /// source and file when a cache is given).
    func parse(_ run: RunRecord) throws -> WorkflowDefinition {
        let parse = {
            try WorkflowParser.parse(
                run.workflowSource, file: run.workflowFile, catalog: kinds.catalog(capabilities: nil))
        }
        guard let parsedSources else { return try parse() }
        let key = ["run-source", run.workflowFile, ContentDigest.sha256(Array(run.workflowSource.utf8))].joined(
            separator: "\u{0}")
        return try parsedSources.value(for: key, orMake: parse)
    }

    /// What changed in the store since the last poll: renews this process's leases once a quarter
    /// of their duration has passed (a renewal at every poll was four fsync'd writes a second
    /// for a runner with nothing to do; three quarters stay as the margin for a stalled loop),
    /// picks up cancellation requests, and reloads agents while some task waits for one.
    private func pollStore(
        _ machines: [RunID: RunStateMachine], tenant: String, environment: inout EngineEnvironment
    ) async throws -> [(RunID, EngineInput)] {
        var inputs: [(RunID, EngineInput)] = []
        let active = machines.filter { !$0.value.isFinished }.map(\.key)
        let now = clock()
        let lease = configuration.leaseDuration.timeInterval
        let cancelled = try await store.renewLeases(
            owner: configuration.owner, runs: active, expiresAt: now.addingTimeInterval(lease),
            renewingBefore: now.addingTimeInterval(lease * 3 / 4))
        for id in cancelled.sorted() {
            inputs.append((id, .cancel(actor: "engine", reason: "cancelled on request")))
        }
        if machines.values.contains(where: \.hasWaitingTasks) {
            let fresh = try await loadAgents(tenant: tenant)
            environment.agents.update(agents: fresh.agents, busyElsewhere: fresh.busyElsewhere)
            for id in active { inputs.append((id, .agentsChanged)) }
        }
        return inputs
    }

    /// Feeds inputs to their machines and collects the writes and the actions to perform after
    /// committing them. Pure agents complete inline, so their start and end commit together.
    private func apply(
        _ inputs: [(RunID, EngineInput)], to machines: inout [RunID: RunStateMachine],
        environment: inout EngineEnvironment, completionWrites: [String: CompletionWrites] = [:]
    ) async -> (ChangeSet, [(RunID, EngineAction)]) {
        var changes = ChangeSet()
        // The runs whose machines handled an input while unfinished: only they write, so only their
        // leases fence the commit (a run that had ended, and that a retry reopened and another
        // process took up, must not fail the others' commit).
        var handled: Set<RunID> = []
        var actions: [(RunID, EngineAction)] = []
        var inputs = inputs
        while !inputs.isEmpty {
            var next: [(RunID, EngineInput)] = []
            // An attempt that ended gave its agent back: tasks waiting for one try again now,
            // not at the next poll of the store.
            let agentsFreed = inputs.contains { _, input in
                if case .attemptFinished = input { return true }
                return false
            }
            for (id, input) in inputs {
                // An accepted end commits the writes its attempt handed over, before the end's own.
                if case .attemptFinished(let key, let attempt, _) = input,
                    let writes = completionWrites[Runner.attemptID(id, key, attempt)],
                    machines[id]?.isCurrent(key: key, attempt: attempt) == true
                {
                    changes.append(writes.take())
                }
                if machines[id]?.isFinished == false { handled.insert(id) }
                // Mutate in place: copying a machine out of the dictionary would copy its tasks.
                guard let produced = machines[id]?.handle(input, in: &environment) else { continue }
                for action in produced {
                    if case .startAttempt(let request) = action, let kind = kinds[request.kind], kind.isPure {
                        let result = await Runner.perform(kind, request, logger: logger, metrics: configuration.metrics)
                        next.append((id, .attemptFinished(key: request.key, attempt: request.attempt, result: result)))
                    } else {
                        actions.append((id, action))
                    }
                }
                if let taken = machines[id]?.takeChanges() { changes.append(taken) }
            }
            // Slots freed in this pass go to the runs whose ready tasks wait for one.
            if environment.executionSlots > 0 {
                for (id, machine) in machines where machine.isWaitingForSlot && !machine.isFinished {
                    next.append((id, .capacityFreed))
                }
            }
            if agentsFreed {
                for (id, machine) in machines where machine.hasWaitingTasks && !machine.isFinished {
                    next.append((id, .agentFreed))
                }
            }
            inputs = next
        }
        changes.fence = fence(for: handled, machines)
        return (changes, actions)
    }

    static func progress(of machines: [RunID: RunStateMachine]) -> Progress {
        var counts: [TaskStatus: Int] = [:]
        var running: [String] = []
        for machine in machines.values {
            for record in machine.tasks.values where record.instanceCount == nil {
                counts[record.status, default: 0] += 1
                if record.status == .running { running.append(record.key) }
            }
        }
        return Progress(counts: counts, running: running.sorted())
    }

    /// What executes `request` here: its agent kind, or the queue to a worker that serves its
    /// capability when this process does not; nil when the kind is not available in this process.
    func executor(for request: AttemptRequest) -> (any AgentKind)? {
        guard let kind = kinds[request.kind] else { return nil }
        if request.agent == nil, let refusal = kinds.refusal(toName: request.kind) {
            // A run stored before the server restricted the kind: refused here too.
            return RefusedKind(name: request.kind, reason: refusal)
        }
        guard !kind.isPure, !kind.waitsOnStore, !configuration.serves(request.capability) else { return kind }
        return WorkerDispatch(queue: QueuedAttempt(store: store, pollInterval: configuration.queuePollInterval))
    }

    /// Executes one attempt, mapping what the agent threw to a result.
    static func perform(_ kind: any AgentKind, _ request: AttemptRequest, logger: Logger, metrics: AttemptMetrics?)
        async -> AttemptResult
    {
        guard let metrics else { return await perform(kind, request, logger: logger) }
        let start = ContinuousClock.now
        let result = await perform(kind, request, logger: logger)
        if case .succeeded = result {
            metrics.record(kind: request.kind, succeeded: true, duration: .now - start)
        } else {
            metrics.record(kind: request.kind, succeeded: false, duration: .now - start)
        }
        return result
    }

    private static func perform(_ kind: any AgentKind, _ request: AttemptRequest, logger: Logger) async
        -> AttemptResult
    {
        var logger = logger
        // Metadata costs string building per attempt; only pay it when something will be logged.
        if logger.logLevel <= .info {
            logger[metadataKey: "run.id"] = "\(request.runID)"
            logger[metadataKey: "task.key"] = "\(request.key)"
            logger[metadataKey: "attempt"] = "\(request.attempt)"
        }
        logger.debug("attempt started", metadata: ["kind": "\(request.kind)"])
        do {
            let output = try await kind.execute(request, logger: logger)
            logger.debug("attempt succeeded")
            return .succeeded(output)
        } catch let failure as AgentFailure {
            logger.info(
                "attempt failed", metadata: ["error": "\(failure.message)", "retryable": "\(failure.retryable)"])
            return .failed(message: failure.message, retryable: failure.retryable)
        } catch {
            logger.info("attempt failed", metadata: ["error": "\(error)"])
            return .failed(message: "\(error)", retryable: true)
        }
    }
}

/// The part of a runner's loop that starts and stops attempts and timers in its task group.
struct Execution {
    let runner: Runner
    let mailbox: Mailbox<Runner.Message>
    /// Attempts executing that take a slot, at most the process's `maxConcurrency`.
    private var executing = 0
    /// Attempts executing that take none (``AgentKind/takesExecutionSlot``), by attempt id.
    private var slotFree: Set<String> = []
    /// Attempts waiting for a slot, with the kind that executes each (nil: none in this process).
    private var queued: [(RunID, AttemptRequest, (any AgentKind)?)] = []
    /// How to stop the attempt executing for each `run/key`, with its attempt number and the
    /// signal that tells it why.
    private var cancellers: [String: (attempt: Int, cancel: AsyncStream<Void>.Continuation, stop: AttemptStop)] = [:]
    /// The spans of the runs and their attempts, when tracing is on.
    var spans = RunSpans()

    init(runner: Runner, mailbox: Mailbox<Runner.Message>) {
        self.runner = runner
        self.mailbox = mailbox
    }

    typealias Group = ThrowingTaskGroup<Void, any Error>

    /// Performs `action` of `run`, whose record as the runner holds it is `record` (read only for
    /// an attempt that takes no slot, which is given it).
    mutating func perform(
        _ action: EngineAction, run: RunID, record: @autoclosure () -> RunRecord?, in group: inout Group
    ) {
        switch action {
        case .startAttempt(let request):
            let kind = runner.executor(for: request)
            if let kind, !kind.takesExecutionSlot {
                slotFree.insert(Runner.attemptID(run, request.key, request.attempt))
                start(kind, request, run: run, record: record(), in: &group)
            } else {
                queued.append((run, request, kind))
                startQueued(in: &group)
            }
        case .cancelAttempt(let key):
            let id = "\(run.rawValue)/\(key)"
            queued.removeAll { $0.0 == run && $0.1.key == key }
            if let canceller = cancellers.removeValue(forKey: id) {
                canceller.stop.give(.cancelled)
                canceller.cancel.finish()
            }
        case .scheduleRetry(let key, let due):
            let mailbox = mailbox
            let clock = runner.clock
            group.addTask {
                let wait = max(0, Int64(due.timeIntervalSince(clock()) * 1000))
                try await Task.sleep(for: .milliseconds(wait))
                mailbox.post(.input(run, .retryDue(key: key)))
            }
        case .runFinished(let status):
            spans.finish(run, status: status)
        }
    }

    mutating func attemptEnded(run: RunID, key: String, attempt: Int, in group: inout Group) {
        if slotFree.remove(Runner.attemptID(run, key, attempt)) == nil { executing -= 1 }
        let id = "\(run.rawValue)/\(key)"
        if cancellers[id]?.attempt == attempt { cancellers[id] = nil }
        startQueued(in: &group)
    }

    mutating func cancelAll() {
        for canceller in cancellers.values { canceller.cancel.finish() }
        cancellers = [:]
        spans.release()
    }

    private mutating func startQueued(in group: inout Group) {
        while executing < runner.configuration.maxConcurrency, !queued.isEmpty {
            let (run, request, kind) = queued.removeFirst()
            guard let kind else {
                mailbox.post(
                    .input(
                        run,
                        .attemptFinished(
                            key: request.key, attempt: request.attempt,
                            result: .failed(
                                message: "agent kind \(request.kind) is not available in this process", retryable: false
                            ))))
                continue
            }
            executing += 1
            start(kind, request, run: run, in: &group)
        }
    }

    /// Executes an attempt of `run` (whose record is `record`, when at hand) by `kind` in the
    /// group, stoppable through its canceller.
    private mutating func start(
        _ kind: any AgentKind, _ request: AttemptRequest, run: RunID, record: RunRecord? = nil, in group: inout Group
    ) {
        let (cancelled, canceller) = AsyncStream.makeStream(of: Void.self)
        let stop = AttemptStop()
        cancellers["\(run.rawValue)/\(request.key)"] = (request.attempt, canceller, stop)
        let mailbox = mailbox
        let logger = runner.logger
        let metrics = runner.configuration.metrics
        let parent = spans.context(of: run)
        let context = runner.engine.map { WorkflowKind.Context(engine: $0, run: record) }
        group.addTask {
            let writes = CompletionWrites()
            let attempt = {
                await CompletionWrites.$current.withValue(writes) {
                    await AttemptStop.$current.withValue(stop) {
                        await WorkflowKind.$context.withValue(context) {
                            await Execution.attempt(
                                kind, request, logger: logger, metrics: metrics, cancelled: cancelled, stop: stop)
                        }
                    }
                }
            }
            let outcome =
                if let parent { await RunSpans.traced(request, parent: parent, attempt) } else { await attempt() }
            if let outcome {
                let finished = EngineInput.attemptFinished(
                    key: request.key, attempt: request.attempt, result: outcome)
                // Only a success's writes are kept: see ``CompletionWrites``.
                if case .succeeded = outcome {
                    mailbox.post(.finished(run, finished, writes))
                } else {
                    mailbox.post(.input(run, finished))
                }
            }
            mailbox.post(.attemptEnded(run, key: request.key, attempt: request.attempt))
        }
    }

    /// Runs the agent against its timeout and a cancellation signal; nil when cancelled. `stop`
    /// learns of the timeout before the agent's task is cancelled.
    static func attempt(
        _ kind: any AgentKind, _ request: AttemptRequest, logger: Logger, metrics: AttemptMetrics?,
        cancelled: AsyncStream<Void>, stop: AttemptStop
    ) async -> AttemptResult? {
        await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask { await Runner.perform(kind, request, logger: logger, metrics: metrics) }
            if let timeout = request.timeout {
                group.addTask {
                    do {
                        try await Task.sleep(for: timeout)
                        stop.give(.timedOut)
                        return .timedOut(after: timeout)
                    } catch {
                        return nil
                    }
                }
            }
            group.addTask {
                for await _ in cancelled {}
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
