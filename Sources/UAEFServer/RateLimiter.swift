import Hummingbird
import Synchronization
import UAEFCore

/// A token bucket per principal (tenant and subject): `rate` requests a second on average,
/// bursts up to `burst`. Past it a request gets 429 with `Retry-After`. Buckets live in this
/// process; behind a load balancer each node limits on its own.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// The seconds until `key` has a token again, or nil when it has one now (nothing is taken).
    func waitIfEmpty(_ key: String, now: ContinuousClock.Instant = .now) -> Double? {
        buckets.withLock { buckets in
            guard let bucket = buckets[key] else { return nil }
            let elapsed = now - bucket.updated
            let seconds = elapsed.timeInterval
            let tokens = min(burst, bucket.tokens + seconds * rate)
            return tokens >= 1 ? nil : (1 - tokens) / rate
        }
    }

    /// Takes one token for `key`; nil when allowed, else the seconds until one is available.
    func take(_ key: String, now: ContinuousClock.Instant = .now) -> Double? {
        buckets.withLock { buckets in
            if buckets.count > 100_000 { buckets = buckets.filter { now - $0.value.updated < .seconds(60) } }
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = elapsed.timeInterval
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }
}

/// Applies the ``RateLimiter`` to authenticated requests.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        if let principal = context.principal,
            let wait = limiter.take(principal.tenant + "\u{0}" + principal.subject)
        {
            throw Problem.tooManyRequests(
                "\(principal.subject) sent more than \(Int(limiter.rate)) requests a second (bursts of \(Int(limiter.burst)))",
                retryAfter: wait)
        }
        return try await next(request, context)
    }
}
