import Foundation

/// When and how long to wait before asking a model again, as the providers' official Python
/// SDKs do (anthropic-sdk-python 0.121.0 and openai-python 3.57.0, `_base_client.py` and
/// `_constants.py`): two retries by default; connection errors, 408, 409, 429 and 5xx (with
/// Anthropic's 529) are retried, and `x-should-retry: true|false` overrides the status; a
/// server's `retry-after-ms`, else `retry-after` (seconds or an HTTP date), is honoured when it
/// is positive and at most ``retryAfterLimit``; otherwise the wait is
/// `min(0.5 s × 2^retries, 8 s)` times a jitter factor in (0.75, 1].
public struct ModelRetryPolicy: Sendable, Hashable {
    /// Retries after the first try.
    public var maxRetries: Int
    public var initialDelay: Double
    public var maxDelay: Double
    /// The longest server-asked wait honoured, in seconds.
    public var retryAfterLimit: Double
    /// True when a longer asked wait means not retrying at all (openai-python); false when it
    /// falls back to the backoff (anthropic-sdk-python).
    public var givesUpBeyondLimit: Bool

    /// anthropic-sdk-python's rules: asked waits beyond 60 s fall back to the backoff.
    public static let anthropic = ModelRetryPolicy(
        maxRetries: 2, initialDelay: 0.5, maxDelay: 8, retryAfterLimit: 60, givesUpBeyondLimit: false)
    /// openai-python's rules: an asked wait beyond 120 s is not retried.
    public static let openAI = ModelRetryPolicy(
        maxRetries: 2, initialDelay: 0.5, maxDelay: 8, retryAfterLimit: 120, givesUpBeyondLimit: true)

    /// Whether an answer with `status` and `headers` (lowercased names) is worth another try.
    public func shouldRetry(status: Int, headers: [String: String], now: Date) -> Bool {
        if givesUpBeyondLimit, let asked = Self.retryAfter(headers, now: now), asked > retryAfterLimit { return false }
        switch headers["x-should-retry"] {
        case "true": return true
        case "false": return false
        default: return status == 408 || status == 409 || status == 429 || status >= 500
        }
    }

    /// How long to wait before retry number `retriesDone + 1`; `jitter` is drawn from [0, 1).
    public func delay(retriesDone: Int, headers: [String: String], now: Date, jitter: Double) -> Double {
        if let asked = Self.retryAfter(headers, now: now), asked > 0, asked <= retryAfterLimit { return asked }
        let exponent = Double(min(max(retriesDone, 0), 1_000))
        return min(initialDelay * pow(2, exponent), maxDelay) * (1 - 0.25 * jitter)
    }

    /// The wait the server asked for, in seconds: `retry-after-ms`, else `retry-after` as
    /// seconds, else as an HTTP date less `now`; nil when neither reads.
    public static func retryAfter(_ headers: [String: String], now: Date) -> Double? {
        if let milliseconds = headers["retry-after-ms"].flatMap(Double.init), milliseconds.isFinite {
            return milliseconds / 1000
        }
        guard let text = headers["retry-after"] else { return nil }
        if let seconds = Double(text) { return seconds.isFinite ? seconds : nil }
        return httpDate(text).map { $0.timeIntervalSince(now) }
    }

    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
