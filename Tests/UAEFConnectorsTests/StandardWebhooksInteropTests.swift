import Foundation
import Testing
import UAEFConnectors
import UAEFTestSupport

/// UAEF's Standard Webhooks signatures against the reference Python library (`standardwebhooks`
/// on PyPI, installed by scripts/test), driven through Tests/Support/standard_webhooks_interop.py.
@Suite("Standard Webhooks interoperability with the reference Python library")
struct StandardWebhooksInteropTests {
    /// Runs the script; its exit status and what it printed.
    func python(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await PythonScript.run("standard_webhooks_interop.py", arguments)
    }

    func message() throws -> (body: [UInt8], file: String, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory("webhooks")
        let body = Array(#"{"type":"run.succeeded","timestamp":"2026-12-02T10:00:00Z","data":{"run":"é"}}"#.utf8)
        let file = directory.path("body.json")
        try Data(body).write(to: URL(fileURLWithPath: file))
        return (body, file, directory)
    }

    @Test("the library verifies what UAEF signs, and refuses it under another secret")
    func libraryVerifiesUAEF() async throws {
        let (body, file, directory) = try message()
        defer { directory.remove() }
        let secret = WebhookSecret.generate()
        let now = Int64(Date().timeIntervalSince1970)
        let signature = StandardWebhooks.signatureHeader(
            id: "msg_interop", timestamp: now, body: body, secrets: [try WebhookSecret(secret)])
        let accepted = try await python(["verify", secret, "msg_interop", "\(now)", signature, file])
        #expect(accepted.status == 0, "\(accepted.output)")
        let refused = try await python(["verify", WebhookSecret.generate(), "msg_interop", "\(now)", signature, file])
        #expect(refused.status == 1)
    }

    @Test("UAEF verifies what the library signs, and refuses it when the body changed")
    func uaefVerifiesLibrary() async throws {
        let (body, file, directory) = try message()
        defer { directory.remove() }
        let secret = WebhookSecret.generate()
        let now = Int64(Date().timeIntervalSince1970)
        let signed = try await python(["sign", secret, "msg_interop", "\(now)", file])
        #expect(signed.status == 0 && signed.output.hasPrefix("v1,"), "\(signed.output)")
        try StandardWebhooks.verify(
            id: "msg_interop", timestamp: "\(now)", signatures: signed.output, body: body,
            secrets: [try WebhookSecret(secret)], now: Date())
        #expect(throws: WebhookSignatureError.noValidSignature) {
            try StandardWebhooks.verify(
                id: "msg_interop", timestamp: "\(now)", signatures: signed.output, body: body + [0x20],
                secrets: [try WebhookSecret(secret)], now: Date())
        }
    }
}
