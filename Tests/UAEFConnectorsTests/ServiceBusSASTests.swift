import Foundation
import Testing

@testable import UAEFConnectors

@Suite("Azure Service Bus shared access signatures")
struct ServiceBusSASTests {
    @Test("the Azure SDK for Go's TestTokenProviderWithKey token (sas_test.go), field for field")
    func goSDKVector() {
        #expect(
            ServiceBusSAS.token(resource: "audience", keyName: "keyName", key: "key", expiry: 1_578_099_723)
                == "SharedAccessSignature sr=audience&sig=8UM0iIfFCfeBSqxSdBMW8pUbhAm7mnjSUaIZTZx8V0g%3D&se=1578099723&skn=keyName"
        )
    }

    @Test(
        "the Azure SDK for JavaScript's signString vector (core-amqp hmacSha256.spec.ts): the key is used as UTF-8 text"
    )
    func javaScriptSDKVector() {
        #expect(ServiceBusSAS.sign("testMessage", key: "testKey") == "8N7PlLvnGgnE2gFU7+AkSxmAc02cXFkOLlFD5gTuOjo=")
    }

    @Test("a full entity URI is percent-encoded with upper-case hex, as the .NET, JavaScript and Python SDKs encode it")
    func entityURI() {
        let token = ServiceBusSAS.token(
            resource: "https://my-namespace.servicebus.windows.net/myqueue", keyName: "RootManageSharedAccessKey",
            key: "ZmFrZS1rZXktZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ==", expiry: 1_700_000_000)
        // The value the Python SDK's generate_sas_token gives for these inputs.
        #expect(
            token
                == "SharedAccessSignature sr=https%3A%2F%2Fmy-namespace.servicebus.windows.net%2Fmyqueue&sig=9WeUidGz9yXf%2BPs%2BDMIV7cuxmkJSdWEaPCV0FgqKngQ%3D&se=1700000000&skn=RootManageSharedAccessKey"
        )
    }
}

@Suite("Queue messages' trigger ids")
struct LockedMessageIDTests {
    @Test(
        "a sender's stable id is used when it is at most 256 bytes; a longer or empty one gives way to the broker's id")
    func boundedIDs() {
        #expect(LockedMessage.id(sent: "order-7", broker: "b-1") == "order-7")
        #expect(LockedMessage.id(sent: String(repeating: "x", count: 257), broker: "b-1") == "b-1")
        #expect(LockedMessage.id(sent: "", broker: "b-1") == "b-1")
        #expect(LockedMessage.id(sent: nil, broker: "b-1") == "b-1")
    }
}
