import Logging
import UAEFCore
import UAEFEngine

/// Does nothing and succeeds with `null`: joins, placeholders, benchmarks.
public struct NoopAgent: AgentKind {
    public init() {}
    public var name: String { "noop" }
    public var parameters: WorkflowCatalog.ParameterSpec { .init() }
    public var isPure: Bool { true }
    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue { .null }
}

/// Succeeds with its evaluated parameters as output.
public struct EchoAgent: AgentKind {
    public init() {}
    public var name: String { "echo" }
    /// Any keys: the output is whatever `with` holds.
    public var parameters: WorkflowCatalog.ParameterSpec { .init(allowsAnyKey: true) }
    public var isPure: Bool { true }
    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        .object(request.parameters)
    }
}

/// Waits for `duration`, then succeeds with `{"slept_ms": …}`.
public struct SleepAgent: AgentKind {
    public init() {}
    public var name: String { "sleep" }
    public var parameters: WorkflowCatalog.ParameterSpec { .init(required: ["duration"]) }
    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let text = request.parameters["duration"]?.stringValue, let duration = DurationText.parse(text) else {
            throw AgentFailure("sleep: duration must be \(DurationText.expectation)", retryable: false)
        }
        try await Task.sleep(for: duration)
        return ["slept_ms": .number(Number(Int(duration.milliseconds)))]
    }
}
