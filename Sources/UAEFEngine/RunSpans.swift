import Tracing
import UAEFCore
import UAEFStore

/// The spans of the runs a runner executes: one per run for as long as this process executes
/// it (a run resumed elsewhere gets another in the same trace), a child per attempt. A run's
/// spans join the trace it was created in (``RunRecord/traceParent``), or start one.
struct RunSpans {
    private var spans: [RunID: any Span] = [:]

    /// Starts the span of each run when a tracer is bootstrapped; does nothing otherwise.
    mutating func begin(_ runs: some Sequence<RunRecord>) {
        guard TraceContext.isEnabled else { return }
        for run in runs {
            let span = InstrumentationSystem.tracer.startSpan(
                "run \(run.workflowName)", context: TraceContext.context(traceParent: run.traceParent))
            span.attributes["uaef.run.id"] = run.id.rawValue
            span.attributes["uaef.tenant"] = run.tenant
            span.attributes["uaef.workflow"] = run.workflowName
            span.attributes["uaef.workflow.version"] = run.workflowVersion
            spans[run.id] = span
        }
    }

    /// The context attempts of `run` start their spans in, when it has a span.
    func context(of run: RunID) -> InstrumentationContext? { spans[run]?.context }

    /// Ends the run's span with how it finished.
    mutating func finish(_ run: RunID, status: RunStatus) {
        guard let span = spans.removeValue(forKey: run) else { return }
        span.attributes["uaef.run.status"] = status.rawValue
        if status != .succeeded { span.setStatus(SpanStatus(code: .error, message: status.rawValue)) }
        span.end()
    }

    /// Ends the spans of runs this process stops executing without their end (its lease
    /// released, the process stopping).
    mutating func release() {
        for span in spans.values {
            span.attributes["uaef.run.released"] = true
            span.end()
        }
        spans = [:]
    }

    /// Executes `attempt` inside a span for `request`, a child of `parent`, which records its result.
    static func traced(
        _ request: AttemptRequest, parent: InstrumentationContext,
        _ attempt: () async -> AttemptResult?
    ) async -> AttemptResult? {
        let span = InstrumentationSystem.tracer.startSpan("attempt \(request.taskID)", context: parent)
        span.attributes["uaef.run.id"] = request.runID.rawValue
        span.attributes["uaef.task.key"] = request.key
        span.attributes["uaef.attempt"] = request.attempt
        span.attributes["uaef.agent.kind"] = request.kind
        if let agent = request.agent { span.attributes["uaef.agent.id"] = agent.id.rawValue }
        let result = await InstrumentationContext.$current.withValue(span.context) { await attempt() }
        switch result {
        case .succeeded: span.attributes["uaef.attempt.status"] = "succeeded"
        case .failed(let message, _):
            span.attributes["uaef.attempt.status"] = "failed"
            span.setStatus(SpanStatus(code: .error, message: message))
        case .timedOut:
            span.attributes["uaef.attempt.status"] = "timed_out"
            span.setStatus(SpanStatus(code: .error, message: "timed out"))
        case nil: span.attributes["uaef.attempt.status"] = "cancelled"
        }
        span.end()
        return result
    }
}
