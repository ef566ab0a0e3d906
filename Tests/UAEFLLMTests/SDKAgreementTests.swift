import Foundation
import Logging
import Testing
import UAEFCore
import UAEFEngine
import UAEFLLM
import UAEFTestSupport

@Suite("The fake provider and UAEF's client agree with the official Python SDKs")
struct SDKAgreementTests {
    static let script =
        ModelClientTests.twoTools + """

              flaky-anthropic:
                - failures:
                    - {status: 529, type: overloaded_error, message: Overloaded}
                    - {status: 429, type: rate_limit_error, message: slow down, headers: {retry-after: "1"}}
                  text: fine now
              flaky-openai:
                - failures:
                    - {status: 503, type: server_error, message: unavailable}
                    - {status: 429, type: rate_limit_exceeded, message: slow down, headers: {retry-after: "1"}}
                  text: fine now
              broken-anthropic:
                - failures: [{status: 400, type: invalid_request_error, message: bad}]
            """

    /// What UAEF's client read, in the script's summary shape.
    static func summary(_ response: ModelResponse) -> JSONValue {
        [
            "text": .string(response.message.text),
            "tools": .array(
                response.message.toolUses.map { ["id": .string($0.id), "name": .string($0.name), "input": $0.input] }),
            "usage": [
                "input": .number(Number(response.usage.input)), "output": .number(Number(response.usage.output)),
                "cache_read": .number(Number(response.usage.cacheRead)),
            ],
        ]
    }

    @Test(
        "anthropic 0.121.0 and openai 3.57.0 parse the fake's whole and streamed answers as UAEF does, retry its 529/503 and 429 to success, and see its 400"
    )
    func agreement() async throws {
        try await withFakeModel(Self.script) { base in
            let (status, text) = try await ExternalProcess.run([
                "python3", Fixtures.packageRoot.appendingPathComponent("Tests/Support/llm_sdk_check.py").path,
                base(.anthropic).absoluteString, "test-key",
            ])
            try #require(status == 0, "\(text)")
            let sdk = try JSONValue(jsonText: text)
            for provider in ModelProvider.allCases {
                for stream in [false, true] {
                    let client = try await ModelClient(
                        endpoint: ModelEndpoint(
                            provider: provider, baseURL: base(provider), apiKey: "test-key", stream: stream),
                        policy: .unrestricted)
                    let call = try await client.call(
                        ModelRequest(model: "two-tools", messages: [.user("Check INV-7")], maxTokens: 256),
                        logger: Logger(label: "test"))
                    await client.shutdown()
                    var expected = try #require(sdk["\(provider.rawValue)_\(stream ? "stream" : "whole")"]?.objectValue)
                    let stopReason = expected.removeValue(forKey: "stop_reason")
                    #expect(Self.summary(call.response) == .object(expected), "\(provider) stream: \(stream)")
                    #expect(stopReason == (provider == .anthropic ? "tool_use" : "tool_calls"))
                    #expect(call.response.stopReason == .toolUse)
                }
            }
            #expect(sdk["anthropic_retried"]?["text"] == "fine now" && sdk["openai_retried"]?["text"] == "fine now")
            #expect(sdk["anthropic_error"] == ["status": 400, "type": "invalid_request_error"])
        }
    }
}
