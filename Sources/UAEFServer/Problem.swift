import Hummingbird
import UAEFCore

/// An RFC 9457 problem: the error body every failing API request gets, as
/// `application/problem+json` with `type`, `title`, `status` and `detail` (and, for validation
/// failures, `errors`: one entry per problem with its place).
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A short, stable slug naming the kind of problem, e.g. `validation-failed`.
    public var kind: String
    /// What went wrong and, where it helps, what would be valid.
    public var detail: String
    /// Further members, e.g. `errors` or `retry_after`.
    public var extra: [String: JSONValue]
    /// Extra response headers, e.g. `Retry-After`.
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ kind: String, _ detail: String, extra: [String: JSONValue] = [:],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.kind = kind
        self.detail = detail
        self.extra = extra
        self.headers = headers
    }

    /// The problem document.
    public var json: JSONValue {
        var members = extra
        members["type"] = .string("https://uaef.dev/problems/\(kind)")
        members["title"] = .string(status.reasonPhrase)
        members["status"] = .number(Number(status.code))
        members["detail"] = .string(detail)
        return .object(members)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json.jsonText)))
    }

    static func notFound(_ what: String) -> Problem { Problem(.notFound, "not-found", "\(what) does not exist") }

    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, "bad-request", detail) }

    /// 429 with `Retry-After` in whole seconds (at least 1, at most a day).
    static func tooManyRequests(_ detail: String, retryAfter wait: Double) -> Problem {
        let seconds = max(1, Int(min(wait, 86_400).rounded(.up)))
        return Problem(
            .tooManyRequests, "rate-limited", "\(detail); retry in \(seconds) s",
            headers: [.retryAfter: String(seconds)])
    }

    /// A request whose content failed validation: every problem with its place.
    static func validation(_ failure: ValidationFailure) -> Problem {
        let errors = failure.issues.map { issue -> JSONValue in
            [
                "file": .string(issue.file), "line": issue.line.map { .number(Number($0)) } ?? .null,
                "field": .string(issue.field), "message": .string(issue.message),
            ]
        }
        let noun = failure.issues.count == 1 ? "problem" : "problems"
        return Problem(
            .unprocessableContent, "validation-failed",
            "\(failure.issues.count) \(noun): " + failure.issues.map(\.description).joined(separator: "; "),
            extra: ["errors": .array(errors)])
    }
}
