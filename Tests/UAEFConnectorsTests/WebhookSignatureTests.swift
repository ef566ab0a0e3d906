import Foundation
import Testing
import UAEFConnectors

@Suite("Webhook signatures: Standard Webhooks 1.0 and GitHub's")
struct WebhookSignatureTests {
    // The specification's published vector, as the reference libraries test it
    // (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign).
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let timestamp: Int64 = 1_614_265_330
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    static let sentAt = Date(timeIntervalSince1970: TimeInterval(timestamp))

    @Test("signing reproduces the specification's test vector, with or without the whsec_ prefix")
    func vector() throws {
        #expect(
            StandardWebhooks.signature(
                id: Self.id, timestamp: Self.timestamp, body: Self.body, secret: try .init(Self.secret))
                == Self.expected)
        let bare = try WebhookSecret(String(Self.secret.dropFirst("whsec_".count)))
        #expect(
            StandardWebhooks.signature(id: Self.id, timestamp: Self.timestamp, body: Self.body, secret: bare)
                == Self.expected)
    }

    @Test("a valid signature verifies; among several (a rotation, other versions) one valid one suffices")
    func verifies() throws {
        let secret = try WebhookSecret(Self.secret)
        try StandardWebhooks.verify(
            id: Self.id, timestamp: "\(Self.timestamp)", signatures: Self.expected, body: Self.body, secrets: [secret],
            now: Self.sentAt.addingTimeInterval(299))
        let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        try StandardWebhooks.verify(
            id: Self.id, timestamp: "\(Self.timestamp)",
            signatures: [wrong, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", Self.expected, wrong].joined(
                separator: " "),
            body: Self.body, secrets: [try WebhookSecret(WebhookSecret.generate()), secret], now: Self.sentAt)
        // Two secrets while rotating: the header carries a signature for each.
        let next = try WebhookSecret(WebhookSecret.generate())
        let header = StandardWebhooks.signatureHeader(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, secrets: [secret, next])
        #expect(header.split(separator: " ").count == 2 && header.hasPrefix(Self.expected))
        try StandardWebhooks.verify(
            id: Self.id, timestamp: "\(Self.timestamp)", signatures: header, body: Self.body, secrets: [next],
            now: Self.sentAt)
    }

    @Test(
        "a changed body, id or timestamp, another secret, a stale or future timestamp and missing headers are refused",
        arguments: [
            ("body", WebhookSignatureError.noValidSignature),
            ("id", .noValidSignature),
            ("timestamp", .noValidSignature),
            ("secret", .noValidSignature),
            ("stale", .stale(seconds: -301)),
            ("future", .stale(seconds: 301)),
            ("no id", .missingHeader("webhook-id")),
            ("no signature", .missingHeader("webhook-signature")),
            ("bad timestamp", .invalidTimestamp("12e3")),
            ("huge timestamp", .stale(seconds: Int64.min)),
        ])
    func refused(_ change: String, _ error: WebhookSignatureError) throws {
        var (id, timestamp, body, secret) = (Self.id, "\(Self.timestamp)", Self.body, Self.secret)
        var signatures: String? = Self.expected
        var now = Self.sentAt
        switch change {
        case "body": body[2] ^= 1
        case "id": id += "x"
        case "timestamp": timestamp = "\(Self.timestamp + 1)"
        case "secret": secret = WebhookSecret.generate()
        case "stale": now = Self.sentAt.addingTimeInterval(301)
        case "future": now = Self.sentAt.addingTimeInterval(-301)
        case "no id": id = ""
        case "no signature": signatures = nil
        case "bad timestamp": timestamp = "12e3"
        case "huge timestamp": timestamp = "-9223372036854775808"
        default: Issue.record("unknown change \(change)")
        }
        let secrets = [try WebhookSecret(secret)]
        #expect(throws: error) {
            try StandardWebhooks.verify(
                id: id, timestamp: timestamp, signatures: signatures, body: body, secrets: secrets, now: now)
        }
    }

    @Test("a secret that is not base64 or too short is refused with a reason")
    func invalidSecrets() {
        #expect(throws: WebhookSignatureError.self) { try WebhookSecret("whsec_not base64!") }
        #expect(throws: WebhookSignatureError.invalidSecret("a webhook secret holds 24 to 64 bytes; this one holds 3"))
        {
            try WebhookSecret("whsec_AAAA")
        }
    }

    @Test("GitHub's X-Hub-Signature-256 reproduces the example of GitHub's documentation and checks in constant time")
    func github() {
        // docs.github.com, "Validating webhook deliveries", testing the webhook payload validation.
        let secret = Array("It's a Secret to Everybody".utf8)
        let body = Array("Hello, World!".utf8)
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        #expect(HexBodySignature.signature(body: body, secret: secret) == expected)
        #expect(HexBodySignature.isValid(expected, body: body, secret: secret))
        #expect(!HexBodySignature.isValid(expected, body: Array("Hello, World?".utf8), secret: secret))
        #expect(!HexBodySignature.isValid("sha1=" + expected.dropFirst(7), body: body, secret: secret))
        #expect(!HexBodySignature.isValid(nil, body: body, secret: secret))
        #expect(!HexBodySignature.isValid("sha256=zz", body: body, secret: secret))
    }
}
