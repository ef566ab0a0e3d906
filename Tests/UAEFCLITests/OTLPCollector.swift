import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import UAEFCore
import UAEFTestSupport

/// The OpenTelemetry collector of the tracing tests (`Tests/Support/otlp_collector.py`, decoding
/// OTLP with the official opentelemetry-proto package), and the spans it received.
final class OTLPCollector {
    private let server: LoopbackHTTPServer
    /// Where `OTEL_EXPORTER_OTLP_ENDPOINT` points; `/echo` answers the `traceparent` it was sent.
    let url: String

    init() throws {
        server = try LoopbackHTTPServer(script: "otlp_collector.py")
        url = "http://127.0.0.1:\(server.port)"
    }

    func stop() { server.stop() }

    /// One exported span as the collector reports it.
    struct Span {
        var fields: [String: JSONValue]
        var id: String { fields["span_id"]?.stringValue ?? "" }
        var parent: String { fields["parent_span_id"]?.stringValue ?? "" }
        var name: String { fields["name"]?.stringValue ?? "" }
        var kind: String { fields["kind"]?.stringValue ?? "" }
        func attribute(_ key: String) -> JSONValue? { fields["attributes"]?[key] }
    }

    /// The spans of `trace` received so far.
    func spans(of trace: String) async throws -> [Span] {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: url + "/spans"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (try JSONValue(jsonText: String(buffer: body)).arrayValue ?? []).compactMap(\.objectValue)
            .filter { $0["trace_id"]?.stringValue == trace }.map(Span.init)
    }

    /// The spans of `trace` once `complete` holds of them (polling for up to 30 s, since a
    /// process exports in batches); the last ones seen otherwise.
    func spans(of trace: String, until complete: ([Span]) -> Bool) async throws -> [Span] {
        let deadline = ContinuousClock.now + .seconds(30)
        var received = try await spans(of: trace)
        while !complete(received), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            received = try await spans(of: trace)
        }
        return received
    }
}

extension [OTLPCollector.Span] {
    /// The span named `name` whose parent is `parent`.
    func first(_ name: String, parent: String) -> OTLPCollector.Span? {
        first { $0.name == name && $0.parent == parent }
    }
}
