import Foundation
import Testing
import UAEFCore
import UAEFLedger
import UAEFStore

@Suite("Event payloads")
struct EventPayloadsTests {
    @Test("sealing replaces each payload by the SHA-256 of its RFC 8785 bytes, and the frame keeps those bytes")
    func sealAndFrame() throws {
        let event = EventDraft(
            id: "evt_1", time: .init(timeIntervalSince1970: 0), type: "task.succeeded", actor: "engine",
            tenant: "default", subject: "run_1/t", data: ["attempt": 1],
            payloads: ["output": ["b": 2, "a": "x\ny"], "input": [:]])
        let sealed = EventPayloads.seal(event)
        let output = CanonicalJSON.bytes(["a": "x\ny", "b": 2])
        let expected: JSONValue = [
            "attempt": 1, "output_sha256": .string(ContentDigest.sha256(output)),
            "input_sha256": .string(ContentDigest.sha256(Array("{}".utf8))),
        ]
        #expect(sealed.canonicalData == CanonicalJSON.bytes(expected))
        #expect(EventPayloads.sealedData(event) == expected.objectValue)
        #expect(EventPayloads.commits(sealed.canonicalData, to: "output", body: output))
        #expect(!EventPayloads.commits(sealed.canonicalData, to: "input", body: output))
        #expect(!EventPayloads.commits(sealed.canonicalData, to: "output", body: output + [0x20]))

        let frame = try #require(EventPayloads.frame(sealed.bodies))
        let unframed = try #require(frame.withUnsafeBytes(EventPayloads.unframe))
        #expect(unframed.map(\.name) == ["input", "output"])
        #expect(unframed.map(\.bytes) == [Array("{}".utf8), output])
        #expect(EventPayloads.frame([]) == nil)
    }

    @Test(
        "a malformed frame is refused rather than misread",
        arguments: ["output", "output\n5", "output\n99\n{}", "o\n-1\n"])
    func malformedFrames(text: String) {
        #expect(Array(text.utf8).withUnsafeBytes(EventPayloads.unframe) == nil)
    }
}
