import Foundation
import UAEFCore
import UAEFStore

/// What happens to a run, fed to ``RunStateMachine/handle(_:in:)``.
public enum EngineInput: Sendable {
    /// Start a new run, or continue one loaded from the store after a stop or crash.
    case start
    /// An attempt finished.
    case attemptFinished(key: String, attempt: Int, result: AttemptResult)
    /// A scheduled retry is due.
    case retryDue(key: String)
    /// Agents were activated or freed: waiting tasks may be assigned now.
    case agentsChanged
    /// An attempt in this process gave its agent back: waiting tasks try again, oldest first,
    /// until one finds no agent free.
    case agentFreed
    /// Execution slots of this process were freed (``EngineEnvironment/executionSlots``): ready
    /// tasks that waited for one may start now.
    case capacityFreed
    /// Stop the run: running attempts are cancelled, nothing new starts.
    case cancel(actor: String, reason: String)
    /// The run's timeout passed.
    case runTimedOut
}

/// How an attempt ended.
public enum AttemptResult: Sendable, Equatable {
    case succeeded(JSONValue)
    /// `retryable` false fails the task at once whatever attempts remain.
    case failed(message: String, retryable: Bool)
    case timedOut(after: Duration)
}

/// What the runner must do after the resulting changes are committed.
public enum EngineAction: Sendable, Equatable {
    case startAttempt(AttemptRequest)
    case cancelAttempt(key: String)
    case scheduleRetry(key: String, at: Date)
    case runFinished(RunStatus)
}

/// Everything an agent needs to execute one attempt.
public struct AttemptRequest: Sendable, Equatable {
    public var runID: RunID
    public var tenant: String
    public var workflow: String
    /// `id` or `id[index]`.
    public var key: String
    public var taskID: String
    public var attempt: Int
    /// Stable across a resumed run: `<run>/<key>/<attempt>`.
    public var idempotencyKey: String
    /// The agent kind that executes it.
    public var kind: String
    /// The registered agent, for capability tasks.
    public var agent: AgentRecord?
    /// The capability the task asked for (nil when it named an agent kind).
    public var capability: String?
    /// The agent's configuration with the task's evaluated `with` on top.
    public var parameters: [String: JSONValue]
    public var timeout: Duration?
    /// True when no earlier attempt of the task ever started, so nothing an attempt records for
    /// its task (an `llm` conversation's steps) can exist yet; false when that is not known.
    public var isFirstOfTask: Bool
    /// The task's attempts before a retry of the run reopened it: what they recorded for the task
    /// (an `llm` conversation's steps) belongs to the run's earlier go, not to be replayed.
    public var attemptsBeforeRetry: Int
    /// The task's attempts since the run's last retry that a stopping process cut off
    /// (`interrupted`): `attempt` less these is the same for an attempt and the one replacing it
    /// after it was cut off, so work it started can be found again (a `workflow` task's child).
    public var interruptions: Int

    public init(
        runID: RunID, tenant: String, workflow: String, key: String, taskID: String, attempt: Int,
        idempotencyKey: String, kind: String, agent: AgentRecord?, capability: String? = nil,
        parameters: [String: JSONValue], timeout: Duration?, isFirstOfTask: Bool = false, attemptsBeforeRetry: Int = 0,
        interruptions: Int = 0
    ) {
        self.runID = runID
        self.tenant = tenant
        self.workflow = workflow
        self.key = key
        self.taskID = taskID
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.kind = kind
        self.agent = agent
        self.capability = capability
        self.parameters = parameters
        self.timeout = timeout
        self.isFirstOfTask = isFirstOfTask
        self.attemptsBeforeRetry = attemptsBeforeRetry
        self.interruptions = interruptions
    }
}

/// The world a state machine sees: the clock, randomness (jitter, ids) and the agents.
public struct EngineEnvironment: Sendable {
    public var now: Date
    public var random: SeededRandom
    public var agents: AgentPool
    /// Recorded as the actor of engine events.
    public var actor: String
    /// Attempts this process may still start (its `--max-concurrency` less those executing): an
    /// attempt is recorded as started only when it has one, so none waits in memory as "started".
    public var executionSlots: Int
    /// Kinds whose attempts take no slot (``AgentKind/takesExecutionSlot``): those the runner
    /// executes inline (noop, echo), and `workflow`, whose child run's attempts take their own.
    public var slotFreeKinds: Set<String>

    public init(
        now: Date, random: SeededRandom, agents: AgentPool, actor: String = "engine", executionSlots: Int = .max,
        slotFreeKinds: Set<String> = []
    ) {
        self.now = now
        self.random = random
        self.agents = agents
        self.actor = actor
        self.executionSlots = executionSlots
        self.slotFreeKinds = slotFreeKinds
    }

    /// A fresh event id.
    mutating func eventID() -> String { "evt_" + SortableID.make(at: now, using: &random) }
}

/// A small, fast, seedable generator (SplitMix64), so engine behaviour is reproducible in tests.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Seeded from the system's generator.
    public static func system() -> SeededRandom {
        var system = SystemRandomNumberGenerator()
        return SeededRandom(seed: system.next())
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<1.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
