import Logging
import OTel
import ServiceLifecycle
import Tracing
import UAEFEngine

/// OpenTelemetry tracing for this process, exported over OTLP/HTTP and configured by the
/// standard `OTEL_*` environment variables. It is off unless the environment asks for it
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
/// `OTEL_TRACES_EXPORTER`), and `OTEL_SDK_DISABLED=true` turns it off whatever else is set.
enum Telemetry {
    /// Whether `environment` asks for traces.
    static func isRequested(_ environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"] { return exporter.lowercased() != "none" }
        return environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != nil
            || environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != nil
    }

    /// Runs `body` with tracing on when `environment` asks for it: the tracer is bootstrapped for
    /// the process, `body` runs in the trace of `TRACEPARENT` when that is set (the convention
    /// for passing trace context to a command), and the spans still queued are exported before
    /// this returns or throws.
    static func withTracing<Result: Sendable>(
        environment: [String: String], _ body: () async throws -> Result
    ) async throws -> Result {
        guard isRequested(environment) else { return try await body() }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "uaef"
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        // The exporter's own troubles go to standard error, never into an output scripts read.
        var diagnostics = Logger(label: "uaef-otel") { StreamLogHandler.standardError(label: $0) }
        diagnostics.logLevel = .warning
        configuration.diagnosticLogger = .custom(diagnostics)
        configuration.diagnosticLogLevel = .warning
        let (tracer, exporter) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [.init(service: exporter)], logger: diagnostics))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            let outcome: Swift.Result<Result, any Error>
            do {
                let parent = environment["TRACEPARENT"].map { TraceContext.context(traceParent: $0) }
                outcome = .success(
                    try await InstrumentationContext.$current.withValue(parent ?? InstrumentationContext.current) {
                        try await body()
                    })
            } catch {
                outcome = .failure(error)
            }
            // A graceful shutdown exports what the batch processor still holds.
            await services.triggerGracefulShutdown()
            try? await group.waitForAll()
            return try outcome.get()
        }
    }
}
