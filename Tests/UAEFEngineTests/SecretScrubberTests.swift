import Testing
import UAEFCore

@testable import UAEFEngine

@Suite("Secret scrubbing of what an attempt says back")
struct SecretScrubberTests {
    @Test("a secret is replaced wherever it appears, and member names that scrub alike keep one member, never a crash")
    func scrubbing() {
        let scrubber = SecretScrubber([(name: "pw", value: "hunter2"), (name: "url", value: "https://x/?k=hunter2")])
        #expect(scrubber.scrub("GET https://x/?k=hunter2 failed") == "GET [secret url] failed")
        let echoed: JSONValue = ["hunter2": "a", "[secret pw]": "b", "list": ["say hunter2"]]
        let scrubbed = scrubber.scrub(echoed)
        #expect(scrubbed.objectValue?.count == 2)
        #expect(scrubbed["list"] == ["say [secret pw]"])
        #expect(!scrubbed.jsonText.contains("hunter2"))
    }
}
