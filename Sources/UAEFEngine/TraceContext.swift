import Tracing

/// W3C trace context (`traceparent`, `tracestate`) kept as text where a span's context must
/// outlive the task that holds it: on a stored run, in a Lambda invocation's headers. With no
/// tracer bootstrapped (tracing is off by default) every call here is a no-op.
public enum TraceContext {
    /// The `traceparent` of the span active in this task, or nil when none is (or tracing is off).
    public static func currentTraceParent() -> String? {
        guard let context = InstrumentationContext.current else { return nil }
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &headers, using: DictionaryInjector())
        return headers["traceparent"]
    }

    /// A context whose parent span is the one `traceParent` names; the top level when it is nil
    /// or not a valid `traceparent` (the tracer ignores what it cannot parse).
    public static func context(traceParent: String?) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        guard let traceParent else { return context }
        InstrumentationSystem.instrument.extract(
            ["traceparent": traceParent], into: &context, using: DictionaryExtractor())
        return context
    }

    /// Whether a tracer is bootstrapped, so spans are worth starting.
    public static var isEnabled: Bool { !(InstrumentationSystem.tracer is NoOpTracer) }
}

/// Writes propagation fields into a dictionary keyed by field name.
public struct DictionaryInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads propagation fields from a dictionary keyed by (lower-case) field name.
public struct DictionaryExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [String: String]) -> String? { carrier[key.lowercased()] }
}
