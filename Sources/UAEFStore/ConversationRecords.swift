import Foundation
import UAEFCore

/// One step of an `llm` task's conversation: a model call or a tool call. The step's content
/// (request, answer, tool input and output) lives in its ledger event's payloads, so redaction
/// erases it like any payload; the row keeps what resuming and budgets need: where the step is,
/// its event, the tokens it used and what they cost.
public struct ConversationStep: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A model call: its event carries the request and the answer.
        case call
        /// A tool call the model asked for: its event carries the input and the result.
        case tool
        /// A call of a tool that may change the world, about to be made: recorded before it, so
        /// an attempt resumed after a crash knows the call may have taken effect.
        case toolStarted = "tool_started"
    }

    public var tenant: String
    public var run: RunID
    public var taskKey: String
    /// The step's place in the task's conversation, from 0, over all of the task's attempts.
    public var index: Int
    public var attempt: Int
    public var kind: Kind
    /// The agent that made the step (the `llm` agent's name), for its daily budget.
    public var agent: String
    /// The UTC day it was made on (`2026-12-03`), for daily budgets.
    public var day: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheCreationTokens: Int
    public var cacheReadTokens: Int
    /// The cost in billionths of `currency`'s unit (exact for prices with up to three decimals
    /// per million tokens); 0 without a price.
    public var costNanos: Int64
    public var currency: String?
    /// How long a model call took (HTTP requests and retries included), milliseconds.
    public var latencyMilliseconds: Int
    /// The id of the step's event (written in the same transaction).
    public var eventID: String
    /// The event's place in the log: set when read back.
    public var eventSeq: Int64

    public init(
        tenant: String, run: RunID, taskKey: String, index: Int, attempt: Int, kind: Kind, agent: String, day: String,
        inputTokens: Int = 0, outputTokens: Int = 0, cacheCreationTokens: Int = 0, cacheReadTokens: Int = 0,
        costNanos: Int64 = 0, currency: String? = nil, latencyMilliseconds: Int = 0, eventID: String,
        eventSeq: Int64 = -1
    ) {
        self.tenant = tenant
        self.run = run
        self.taskKey = taskKey
        self.index = index
        self.attempt = attempt
        self.kind = kind
        self.agent = agent
        self.day = day
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheCreationTokens = cacheCreationTokens
        self.cacheReadTokens = cacheReadTokens
        self.costNanos = costNanos
        self.currency = currency
        self.latencyMilliseconds = latencyMilliseconds
        self.eventID = eventID
        self.eventSeq = eventSeq
    }

    /// Every token the step counted.
    public var tokens: Int { inputTokens + outputTokens + cacheCreationTokens + cacheReadTokens }
}

/// What a set of conversation steps used.
public struct ConversationSpending: Sendable, Hashable {
    public var tokens: Int
    /// Billionths of the currency unit, summed over steps with a price.
    public var costNanos: Int64

    public init(tokens: Int = 0, costNanos: Int64 = 0) {
        self.tokens = tokens
        self.costNanos = costNanos
    }
}

/// What one agent's model calls came to, over all its conversations.
public struct ConversationTotals: Sendable, Hashable {
    public var calls: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheCreationTokens: Int
    public var cacheReadTokens: Int
    /// Cost per currency, in billionths of its unit.
    public var costNanos: [String: Int64]
    public var p50LatencyMilliseconds: Int?
    public var p95LatencyMilliseconds: Int?

    public init(
        calls: Int = 0, inputTokens: Int = 0, outputTokens: Int = 0, cacheCreationTokens: Int = 0,
        cacheReadTokens: Int = 0, costNanos: [String: Int64] = [:], p50LatencyMilliseconds: Int? = nil,
        p95LatencyMilliseconds: Int? = nil
    ) {
        self.calls = calls
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheCreationTokens = cacheCreationTokens
        self.cacheReadTokens = cacheReadTokens
        self.costNanos = costNanos
        self.p50LatencyMilliseconds = p50LatencyMilliseconds
        self.p95LatencyMilliseconds = p95LatencyMilliseconds
    }
}

/// A step whose place in its task's conversation was already taken: another attempt (a process
/// that lost its lease) recorded it first.
public struct ConversationStepTaken: Error, Sendable, Hashable, CustomStringConvertible {
    public var run: RunID
    public var taskKey: String
    public var index: Int

    public init(run: RunID, taskKey: String, index: Int) {
        self.run = run
        self.taskKey = taskKey
        self.index = index
    }

    public var description: String {
        "step \(index) of task \(taskKey) in run \(run) was already recorded by another attempt"
    }
}

/// The conversations of `llm` tasks: their steps, recorded with their events (through
/// ``WorkflowStore/commit(_:)``, so concurrent steps share a transaction), read back to resume a
/// task after a crash, and summed for budgets.
public protocol ConversationStore: Sendable {
    /// The task's steps in order, each with its event's seq.
    func conversationSteps(tenant: String, run: RunID, taskKey: String) async throws -> [ConversationStep]

    /// What the run's conversations used.
    func conversationSpending(tenant: String, run: RunID) async throws -> ConversationSpending

    /// What the agent's conversations used on `day` (UTC, `yyyy-MM-dd`).
    func conversationSpending(tenant: String, agent: String, day: String) async throws -> ConversationSpending

    /// The agent's model calls over all its conversations: tokens, cost per currency, latency.
    func conversationTotals(tenant: String, agent: String) async throws -> ConversationTotals
}

extension WorkflowStore {
    /// Records `step` and appends `event` (whose id is the step's `eventID`) in one transaction;
    /// throws ``ConversationStepTaken``, writing nothing, when the step's index is taken.
    public func recordConversationStep(_ step: ConversationStep, event: EventDraft) async throws {
        var changes = ChangeSet()
        changes.conversationSteps = [step]
        changes.events = [event]
        try await commit(changes)
    }
}
