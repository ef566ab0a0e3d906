import Foundation
import Testing
import UAEFTestSupport

@Suite("The README's connectors walkthrough")
struct ConnectorWalkthroughTests {
    @Test(
        "examples/connectors/walkthrough.sh: a signed webhook starts a run that publishes to SQS (moto) and Service Bus, once, and the ledger shows it"
    )
    func walkthrough() async throws {
        let (status, text) = try await ExternalProcess.run(
            [Fixtures.packageRoot.appendingPathComponent("examples/connectors/walkthrough.sh").path],
            environment: ProcessInfo.processInfo.environment.merging(["UAEF_BINARY": Fixtures.binary.path]) {
                _, new in new
            }, withErrors: true)
        #expect(status == 0, "\(text)")
        #expect(text.contains(#""replayed":true"#) && text.contains(": succeeded"), "\(text)")
        #expect(
            text.contains("ORD-1001") && text.contains("task.succeeded") && text.hasSuffix("walkthrough done\n"),
            "\(text)")
    }
}
