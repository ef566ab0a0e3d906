import Foundation
import Logging
import UAEFCore
import UAEFStore

extension Engine {
    /// What a worker reports about the attempts it executes for other processes' runs.
    public enum QueuedAttemptEvent: Sendable {
        /// An attempt was executed and its outcome recorded.
        case finished(RemoteTaskRecord, AttemptResult)
        /// The attempt's lease was lost while it executed (it timed out, its run was cancelled,
        /// or another worker took it over): the agent was stopped and its outcome not recorded.
        case leaseLost(RemoteTaskRecord)
        /// The worker stopped while the attempt executed: its agent was stopped and the attempt
        /// queued again for another worker.
        case released(RemoteTaskRecord)
        /// Claiming failed; the worker retries after `retryIn`.
        case claimFailed(any Error, retryIn: Duration)
    }

    /// Executes attempts that processes orchestrating runs queued for workers (because they do not
    /// serve the task's capability), for tasks asking for one of `capabilities` (nil: any), until
    /// the task is cancelled. Each is claimed with a lease and a new generation, heartbeated while
    /// its agent works, and finished with the outcome; a completion under a lost lease is refused
    /// by the store, so a stalled worker cannot overwrite newer work.
    public func executeQueuedAttempts(
        capabilities: [String]?, _ worker: WorkerConfiguration = .init(),
        report: @escaping @Sendable (QueuedAttemptEvent) async -> Void
    ) async {
        let loop = ClaimLoop(
            capacity: worker.maxQueuedAttempts, interval: worker.queueClaimInterval, maxBackoff: worker.maxBackoff,
            wakeups: worker.wakeups)
        await loop.run(
            claim: { _ in try await claimQueued(capabilities: capabilities).map { ($0, 1) } },
            // Reported from the attempt's own task: a worker stopping still says what it handed back.
            execute: { task in await report(await self.executeClaimed(task)) },
            ended: { _ in (1, true) },
            claimFailed: { error, retryIn in await report(.claimFailed(error, retryIn: retryIn)) })
    }

    /// Executes the attempts queued for `capabilities` (nil: any) that can be claimed now, up to
    /// `worker.maxQueuedAttempts` at once, and returns when none is left: for a process that does
    /// not stay, such as a Lambda function. Cancelled, it hands those executing back as a
    /// stopping worker does. What each attempt came to, in the order they ended.
    public func executeQueuedAttemptsNow(capabilities: [String]?, _ worker: WorkerConfiguration = .init())
        async throws -> [QueuedAttemptEvent]
    {
        try await withThrowingTaskGroup(of: QueuedAttemptEvent.self) { group in
            var (running, exhausted) = (0, false)
            var events: [QueuedAttemptEvent] = []
            while true {
                while !exhausted, running < worker.maxQueuedAttempts, !Task.isCancelled {
                    guard let task = try await claimQueued(capabilities: capabilities) else {
                        exhausted = true
                        break
                    }
                    group.addTask { await self.executeClaimed(task) }
                    running += 1
                }
                guard let event = try await group.next() else { return events }
                events.append(event)
                running -= 1
            }
        }
    }

    /// Claims the next attempt queued for `capabilities` (nil: any), leased for one lease duration.
    private func claimQueued(capabilities: [String]?) async throws -> RemoteTaskRecord? {
        let now = Date()
        return try await store.claimWorkerTask(
            capabilities: capabilities, tenant: tenant, now: now,
            leaseUntil: now.addingTimeInterval(configuration.leaseDuration.timeInterval))
    }

    /// Executes one claimed attempt with its agent kind while heartbeating its lease, and records
    /// the outcome under the claim's generation.
    private func executeClaimed(_ task: RemoteTaskRecord) async -> QueuedAttemptEvent {
        let lease = configuration.leaseDuration
        guard let kindName = task.kind, let kind = kinds[kindName], !kind.waitsOnStore else {
            // Retryable: the next attempt may reach a worker that has the kind.
            let result = AttemptResult.failed(
                message: "agent kind \(task.kind ?? "(none)") is not available in worker \(configuration.owner)",
                retryable: true)
            return await record(result, of: task)
        }
        // The task's row says whether this attempt is still the task's latest (one queued before a
        // retry reopened the task is not: it is not executed), and how many attempts came before
        // the retry, whose records an `llm` conversation must not replay.
        let attemptsBeforeRetry: Int
        do {
            let row = try await store.task(task.key, of: task.runID, tenant: task.tenant)
            guard let row, row.attempts == task.attempt, task.attempt > row.attemptsBeforeRetry else {
                return await record(
                    .failed(
                        message:
                            "attempt \(task.attempt) is no longer the task's latest (the run was retried or moved on); not executed",
                        retryable: false), of: task)
            }
            attemptsBeforeRetry = row.attemptsBeforeRetry
        } catch {
            return await record(
                .failed(message: "the task's state could not be read: \(error)", retryable: true), of: task)
        }
        let request = AttemptRequest(
            runID: task.runID, tenant: task.tenant, workflow: task.workflow, key: task.key,
            taskID: String(task.key.prefix { $0 != "[" }), attempt: task.attempt,
            idempotencyKey: task.idempotencyKey, kind: kindName, agent: nil, capability: task.capability,
            parameters: task.input, timeout: nil, attemptsBeforeRetry: attemptsBeforeRetry)
        let (logger, metrics, store) = (logger, configuration.metrics, store)
        let outcome = await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask {
                let attempt = { await Runner.perform(kind, request, logger: logger, metrics: metrics) }
                guard let traceParent = await traceParent(of: request) else { return await attempt() }
                return await RunSpans.traced(request, parent: TraceContext.context(traceParent: traceParent), attempt)
            }
            // Heartbeats extend the lease and find out when the attempt ended without this worker.
            group.addTask {
                let interval = min(lease / 3, .seconds(1))
                while !Task.isCancelled {
                    do {
                        try await Task.sleep(for: interval)
                        let now = Date()
                        let update = try await store.updateRemoteTask(
                            task.id, tenant: task.tenant, generation: task.generation,
                            change: .heartbeat(until: now.addingTimeInterval(lease.timeInterval)),
                            now: now)
                        if case .updated = update { continue }
                        return nil
                    } catch is CancellationError {
                        return nil
                    } catch {
                        // The store is unreachable: keep working; the completion's fence decides.
                        logger.warning(
                            "heartbeat failed", metadata: ["remote_task": "\(task.id)", "error": "\(error)"])
                    }
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if Task.isCancelled {
            // Stopping: another worker may take the attempt at once rather than at lease expiry.
            // A cancelled task's store calls are refused, so the release is written from its own.
            await Task {
                _ = try? await store.updateRemoteTask(
                    task.id, tenant: task.tenant, generation: task.generation, change: .release, now: Date())
            }.value
            return .released(task)
        }
        guard let outcome else { return .leaseLost(task) }
        return await record(outcome, of: task)
    }

    /// The traceparent of the span that created `request`'s run, when tracing is on and the run
    /// was created in a trace: a queued attempt's span joins that trace (its run's own span is in
    /// the process that orchestrates it). Read once per run: a run's traceparent never changes.
    private func traceParent(of request: AttemptRequest) async -> String? {
        guard TraceContext.isEnabled else { return nil }
        let key = request.tenant + "/" + request.runID.rawValue
        if let known = Self.traceParents.value(for: key) { return known }
        guard let run = try? await store.run(request.runID, tenant: request.tenant) else { return nil }
        Self.traceParents.keep(run.traceParent, for: key)
        return run.traceParent
    }

    /// The traceparents of the runs whose queued attempts this process executed, by tenant and run.
    private static let traceParents = BoundedCache<String?>(capacity: 10_000)

    /// Finishes `task` with `result` under its claim's generation.
    private func record(_ result: AttemptResult, of task: RemoteTaskRecord) async -> QueuedAttemptEvent {
        let change: RemoteTaskChange =
            switch result {
            case .succeeded(let output): .succeed(output)
            case .failed(let message, let retryable): .fail(message, retryable: retryable)
            case .timedOut(let after): .fail("timed out after \(after)", retryable: true)
            }
        do {
            let update = try await store.updateRemoteTask(
                task.id, tenant: task.tenant, generation: task.generation, change: change, now: Date())
            guard case .updated = update else { return .leaseLost(task) }
            return .finished(task, result)
        } catch {
            // Unrecorded: the lease expires and the attempt is claimed and executed again.
            logger.warning("could not record an outcome", metadata: ["remote_task": "\(task.id)", "error": "\(error)"])
            return .leaseLost(task)
        }
    }
}
