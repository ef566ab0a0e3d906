/// A model call that did not produce an answer: what the provider or the connection said, and
/// whether asking again may help.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status, when the provider answered.
    public var status: Int?
    /// The provider's error type (`overloaded_error`, `rate_limit_exceeded`, …), when it named one.
    public var type: String?
    public var message: String
    /// True when the providers' own SDKs would try again (connection errors, 408, 409, 429, 5xx,
    /// an overloaded stream), before `x-should-retry` has its say.
    public var retryable: Bool
    /// How long the provider asked to wait before the next try (`retry-after-ms`, `retry-after`).
    public var retryAfter: Duration?

    public init(status: Int?, type: String?, message: String, retryable: Bool, retryAfter: Duration? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    /// An answer this client cannot read (not JSON, a field missing): not worth repeating.
    static func malformed(_ what: String) -> ModelError {
        ModelError(status: nil, type: "invalid_response", message: what, retryable: false)
    }

    public var description: String {
        var parts: [String] = []
        if let status { parts.append("HTTP \(status)") }
        if let type { parts.append(type) }
        return (parts.isEmpty ? "" : parts.joined(separator: " ") + ": ") + message
    }
}
