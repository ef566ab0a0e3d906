import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import UAEFCore

/// What the next create of a fake ERP does instead of answering normally: the failures an
/// exactly-once client must survive.
public enum FakeERPFault: Sendable, Equatable {
    /// Answer `status` without creating.
    case refuse(status: Int)
    /// Create, then answer `status`: the caller never learns the document's number.
    case loseAnswer(status: Int)
    /// Create, then wait this long before answering.
    case hold(Duration)
    /// Take an import, which then ends in `ERROR` (Oracle's Journal Import).
    case jobError
    /// Refuse an import the way a pod does: `ReqstId` `-1` in a successful answer.
    case rejectJob

    /// The faults of a `POST /$fake/faults` body: a list of `{"kind": "refuse" | "lose_answer" |
    /// "hold" | "job_error" | "reject_job", "status": N (default 503), "seconds": S (default 5)}`;
    /// nil when it is not one.
    static func parse(_ text: String) -> [FakeERPFault]? {
        guard let list = (try? JSONValue(jsonText: text))?.arrayValue else { return nil }
        var faults: [FakeERPFault] = []
        for entry in list {
            let status = entry["status"]?.numberValue?.intValue ?? 503
            switch entry["kind"]?.stringValue {
            case "refuse": faults.append(.refuse(status: status))
            case "lose_answer": faults.append(.loseAnswer(status: status))
            case "hold":
                faults.append(.hold(.milliseconds(Int64((entry["seconds"]?.numberValue?.intValue ?? 5) * 1000))))
            case "job_error": faults.append(.jobError)
            case "reject_job": faults.append(.rejectJob)
            default: return nil
            }
        }
        return faults
    }
}

/// The faults a fake ERP has been asked to meet, taken one per create.
final class FakeERPFaults: Sendable {
    private let pending = Mutex<[FakeERPFault]>([])

    func add(_ faults: [FakeERPFault]) { pending.withLock { $0 += faults } }

    /// The next fault, if any, removed.
    func next() -> FakeERPFault? { pending.withLock { $0.isEmpty ? nil : $0.removeFirst() } }

    /// Serves `POST /$fake/faults` on `router`.
    func route(on router: Router<BasicRequestContext>) {
        router.post("$fake/faults") { request, _ in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            guard let faults = FakeERPFault.parse(text) else {
                return FakeHTTP.json(
                    400,
                    [
                        "error":
                            "expected a list of {kind: refuse | lose_answer | hold | job_error | reject_job, status, seconds}"
                    ])
            }
            self.add(faults)
            return FakeHTTP.json(200, ["faults": .number(Number(faults.count))])
        }
    }
}

/// Responses of the fakes.
enum FakeHTTP {
    static func json(_ status: Int, _ value: JSONValue, contentType: String = "application/json") -> Response {
        var response = Response(
            status: HTTPResponse.Status(code: status),
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonText)))
        response.headers[.contentType] = contentType
        return response
    }

    static func text(_ status: Int, _ text: String) -> Response {
        var response = Response(
            status: HTTPResponse.Status(code: status), body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        response.headers[.contentType] = "text/plain; charset=utf-8"
        return response
    }

    /// The query's parameters, percent-decoded.
    static func queryItems(_ query: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard let name = parts.first?.removingPercentEncoding else { continue }
            items[name] =
                parts.count > 1 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
        }
        return items
    }

    /// Whether `request` carries Basic credentials of `user` and `password`.
    static func isBasic(_ request: Request, user: String, password: String) -> Bool {
        request.headers[.authorization] == "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }
}
