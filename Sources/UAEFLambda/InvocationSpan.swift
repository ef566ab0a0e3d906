import Foundation
import NIOCore
import Tracing
import UAEFEngine

/// The X-Ray trace header Lambda gives each invocation (`Lambda-Runtime-Trace-Id`,
/// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`) read as W3C trace
/// context: X-Ray's trace id is the W3C one split after its first 8 hex digits (the epoch) and
/// prefixed with the version `1-`, its parent is the span id, and `Sampled` the sampled flag.
public enum XRayTraceHeader {
    /// The `traceparent` the header names, or nil when it has no valid root and parent.
    public static func traceParent(_ header: String) -> String? {
        var fields: [Substring: Substring] = [:]
        for field in header.split(separator: ";") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[parts[0].trimmingCharacters(in: .whitespaces)[...]] = parts[1] }
        }
        let root = fields["Root"]?.split(separator: "-") ?? []
        guard root.count == 3, root[0] == "1", root[1].count == 8, root[2].count == 24,
            let parent = fields["Parent"], parent.count == 16
        else { return nil }
        let traceID = (root[1] + root[2]).lowercased()
        let spanID = parent.lowercased()
        guard isHex(traceID), isHex(spanID), traceID != String(repeating: "0", count: 32),
            spanID != String(repeating: "0", count: 16)
        else { return nil }
        return "00-\(traceID)-\(spanID)-\(fields["Sampled"] == "1" ? "01" : "00")"
    }

    private static func isHex(_ text: String) -> Bool { text.allSatisfy(\.isHexDigit) }
}

/// A server span per invocation (OpenTelemetry's FaaS conventions), a child of the span Lambda's
/// trace header names, around the handler's work.
///
/// The tracer is not asked to flush when the invocation ends: swift-otel 1.6.0's batch processor
/// keeps what a forced flush exported and exports it again at its next tick. Spans go out on the
/// batch schedule (`OTEL_BSP_SCHEDULE_DELAY`) while the process runs, so those of an invocation
/// may wait for the next one to thaw the process.
enum InvocationSpan {
    static func traced(
        _ context: LambdaContext, _ handle: () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        guard TraceContext.isEnabled else { return try await handle() }
        let parent = TraceContext.context(traceParent: XRayTraceHeader.traceParent(context.traceID))
        let name = ProcessInfo.processInfo.environment["AWS_LAMBDA_FUNCTION_NAME"] ?? "lambda"
        return try await withSpan(name, context: parent, ofKind: .server) { span in
            span.attributes["faas.invocation_id"] = context.requestID
            span.attributes["cloud.resource_id"] = context.functionARN
            span.attributes["cloud.provider"] = "aws"
            return try await handle()
        }
    }
}
