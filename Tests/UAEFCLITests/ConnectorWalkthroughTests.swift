import Foundation
import Testing
import UAEFTestSupport

@Suite("The README's connectors walkthrough")
struct ConnectorWalkthroughTests {
    @Test(
        "examples/connectors/walkthrough.sh: a signed webhook starts a run that publishes to SQS (moto) and Service Bus, once, and the ledger shows it"
    )
    func walkthrough() throws {
        let process = Process()
        let output = Pipe()
        process.executableURL = Fixtures.packageRoot.appendingPathComponent("examples/connectors/walkthrough.sh")
        process.environment = ProcessInfo.processInfo.environment.merging(["UAEF_BINARY": Fixtures.binary.path]) {
            _, new in new
        }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains(#""replayed":true"#) && text.contains(": succeeded"), "\(text)")
        #expect(
            text.contains("ORD-1001") && text.contains("task.succeeded") && text.hasSuffix("walkthrough done\n"),
            "\(text)")
    }
}
