import Crypto
import Foundation
import Testing

@testable import UAEFConnectors

/// The AWS Signature Version 4 test suite's cases (aws-sig-v4-test-suite, as vendored by the AWS
/// SDKs, e.g. smithy-rs's aws-sigv4 crate): credentials AKIDEXAMPLE /
/// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service `service`, at 20150830T123600Z.
@Suite("AWS Signature Version 4 against the published test suite")
struct SigV4Tests {
    static let signer = SigV4Signer(
        credentials: AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    func authorization(_ url: String, method: String = "GET", headers: [(String, String)] = [], body: String = "")
        -> String
    {
        Self.signer.signatureHeaders(
            method: method, url: URL(string: url)!, headers: headers, body: Array(body.utf8), date: Self.date
        ).first { $0.0 == "Authorization" }?.1 ?? ""
    }

    @Test("get-vanilla: the canonical request, the signing scope and the signature")
    func vanilla() {
        let (canonical, signed) = SigV4Signer.canonicalRequest(
            method: "GET", url: URL(string: "https://example.amazonaws.com/")!,
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
            payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            canonical
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        #expect(signed == "host;x-amz-date")
        #expect(
            authorization("https://example.amazonaws.com/")
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    }

    @Test("get-vanilla-query-order-key-case: query parameters sorted by name")
    func queryOrder() {
        #expect(
            authorization("https://example.amazonaws.com/?Param2=value2&Param1=value1").hasSuffix(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
        #expect(
            SigV4Signer.canonicalQuery(URL(string: "https://e/?b=2&a=x%20y&c=%2F&a=w")!) == "a=w&a=x%20y&b=2&c=%2F")
    }

    @Test("the signing key is the documented four-step HMAC chain, and values are trimmed and folded")
    func pieces() {
        // AWS General Reference, "Calculate the signature": the example key for 20150830/us-east-1/iam.
        let key = SigV4Signer.signingKey(
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20150830", region: "us-east-1", service: "iam")
        #expect(
            key.withUnsafeBytes { SigV4Signer.hex($0) }
                == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        let (canonical, _) = SigV4Signer.canonicalRequest(
            method: "GET", url: URL(string: "https://example.amazonaws.com/")!,
            headers: [("My-Header1", "  value1  "), ("My-Header2", "\"a   b   c\"")], payloadHash: "-")
        #expect(canonical.contains("my-header1:value1\nmy-header2:\"a b c\"\n"))
        #expect(SigV4Signer.encode("a b/ü~") == "a%20b%2F%C3%BC~")
    }

    @Test("a session token is sent and signed")
    func sessionToken() {
        var signer = Self.signer
        signer.credentials.sessionToken = "token-123"
        let headers = signer.signatureHeaders(
            method: "POST", url: URL(string: "https://sqs.us-east-1.amazonaws.com/")!, headers: [], body: [UInt8](),
            date: Self.date)
        #expect(headers.contains { $0 == ("X-Amz-Security-Token", "token-123") })
        #expect(headers.last?.1.contains("SignedHeaders=host;x-amz-date;x-amz-security-token") == true)
    }
}
