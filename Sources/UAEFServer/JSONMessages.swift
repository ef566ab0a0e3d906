import Hummingbird
import NIOCore
import UAEFCore

/// JSON request and response bodies, in UAEF's own ``JSONValue`` (the same encoder the CLI's
/// `--json` uses, so both print one shape).
enum JSONMessage {
    /// A response whose body is `value`.
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        response(text: value.jsonText, status: status, headers: headers)
    }

    /// A response whose body is JSON text already rendered.
    static func response(text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The request body as text, refused with 413 past `limit` bytes and with 400 when it is not
    /// UTF-8 (never silently repaired).
    static func text(of request: Request, limit: Int) async throws -> String {
        let body = try await request.body.collect(upTo: limit)
        guard let text = body.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw Problem.badRequest("the request body is not valid UTF-8 text")
        }
        return text
    }

    /// The request body as a JSON object, with a 400 problem naming what is wrong otherwise; with
    /// `allowEmpty` an empty body is an empty object.
    static func object(of request: Request, limit: Int, allowEmpty: Bool = false) async throws -> [String: JSONValue] {
        let text = try await text(of: request, limit: limit)
        if allowEmpty && text.allSatisfy(\.isWhitespace) { return [:] }
        let value: JSONValue
        do {
            value = try JSONValue(jsonText: text)
        } catch {
            throw Problem.badRequest("the request body is not JSON (\(error)); send a JSON object")
        }
        guard let object = value.objectValue else { throw Problem.badRequest("the request body must be a JSON object") }
        return object
    }

    /// Refuses members other than `allowed`, naming them and what is accepted.
    static func checkMembers(_ object: [String: JSONValue], allowed: Set<String>, in place: String) throws {
        let unknown = object.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw Problem(
                .unprocessableContent, "validation-failed",
                "\(place) has unknown member\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")); accepted: \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }
}

extension Request {
    /// A query parameter parsed as a positive integer within `range`, or nil when absent.
    func integerQuery(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw Problem.badRequest(
                "query parameter \(name)=\(text.prefix(40)) must be an integer from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return value
    }

    /// A query parameter as text, or nil when absent; present but empty (`?status=`) is refused
    /// rather than read as absent, so a client's missing value never widens a query silently.
    func textQuery(_ name: String) throws -> String? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard !text.isEmpty else {
            throw Problem.badRequest("query parameter \(name)= is empty; give it a value or leave it out")
        }
        return text
    }
}
