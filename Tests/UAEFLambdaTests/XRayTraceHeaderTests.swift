import Testing
import UAEFLambda

/// Lambda's X-Ray trace header read as W3C trace context, so an invocation's spans join the trace
/// Lambda started.
@Suite("X-Ray trace headers as W3C traceparent")
struct XRayTraceHeaderTests {
    @Test("the root's two parts make the trace id, the parent the span id, Sampled the flag")
    func converts() {
        // The header of the AWS X-Ray developer guide ("Tracing header"); the W3C form is what
        // OpenTelemetry's X-Ray propagator (opentelemetry-go-contrib propagators/aws/xray) reads from it.
        #expect(
            XRayTraceHeader.traceParent("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
                == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        #expect(
            XRayTraceHeader.traceParent("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=0")
                == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00")
        // The order of the fields does not matter, and a missing Sampled is not sampled.
        #expect(
            XRayTraceHeader.traceParent("Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a:1")
                == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00")
    }

    @Test("a header without a valid root and parent gives no parent")
    func refuses() {
        for header in [
            "", "Root=1-5759e988-bd862e3fe1be46a994272793", "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e98-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
            "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
        ] {
            #expect(XRayTraceHeader.traceParent(header) == nil, "\(header)")
        }
    }
}
