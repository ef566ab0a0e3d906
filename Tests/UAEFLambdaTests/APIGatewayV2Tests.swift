import Foundation
import NIOCore
import Testing
import UAEFCore
import UAEFLambda
import UAEFServer
import UAEFTestSupport

/// API Gateway HTTP API events (payload 2.0) to API requests and back, on the fixture events of
/// the AWS Lambda Go library (Tests/Support/lambda-events).
@Suite("API Gateway HTTP API events")
struct APIGatewayV2Tests {
    static func fixture(_ name: String) throws -> ByteBuffer {
        let url = Fixtures.packageRoot.appendingPathComponent("Tests/Support/lambda-events/\(name)")
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    @Test(
        "a request with a JWT authorizer: method, path and query, headers, cookies as one header, base64 body, source IP"
    )
    func jwtAuthorizer() throws {
        let request = try APIGatewayV2.request(from: try Self.fixture("apigw-v2-request-jwt-authorizer.json"))
        #expect(request.method == "POST")
        #expect(request.target == "/v1/runs?status=succeeded&limit=5")
        #expect(request.headers.contains { $0.name == "Header1" && $0.value == "value1" })
        #expect(request.headers.contains { $0.name == "cookie" && $0.value == "cookie1; cookie2" })
        #expect(String(buffer: request.body) == #"{"workflow": "hello"}"#)
        #expect(request.clientAddress == "192.0.2.10")
    }

    @Test("a request without an authorizer, body or query")
    func noAuthorizer() throws {
        let request = try APIGatewayV2.request(from: try Self.fixture("apigw-v2-request-no-authorizer.json"))
        #expect(request.method == "GET" && request.target == "/" && request.body.readableBytes == 0)
        #expect(request.clientAddress == "1.2.3.4")
    }

    @Test("an event that is not payload 2.0, or whose base64 body is not base64, is refused with the reason")
    func refused() throws {
        for (event, expected) in [
            (#"{"version": "1.0", "httpMethod": "GET"}"#, "payload format 2.0"),
            ("[1]", "not a JSON object"),
            (
                #"{"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}, "body": "%%%", "isBase64Encoded": true}"#,
                "not base64"
            ),
        ] {
            #expect {
                try APIGatewayV2.request(from: ByteBuffer(string: event))
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
    }

    @Test("an answer: Set-Cookie headers become cookies, repeated headers are joined, JSON stays text, bytes go base64")
    func answer() throws {
        let json = APIGatewayV2.answer(
            APIResponder.Response(
                status: 201,
                headers: [
                    ("Content-Type", "application/json"), ("Set-Cookie", "a=1; HttpOnly"), ("Set-Cookie", "b=2"),
                    ("Vary", "Accept"), ("Vary", "Origin"),
                ], body: ByteBuffer(string: #"{"ok":true}"#)))
        let value = try JSONValue(jsonText: String(buffer: json))
        #expect(value["statusCode"] == 201)
        #expect(value["cookies"] == ["a=1; HttpOnly", "b=2"])
        #expect(value["headers"]?["vary"] == "Accept, Origin")
        #expect(value["headers"]?["set-cookie"] == nil)
        #expect(value["body"] == #"{"ok":true}"# && value["isBase64Encoded"] == false)

        let binary = APIGatewayV2.answer(
            APIResponder.Response(
                status: 200, headers: [("Content-Type", "application/zip")],
                body: ByteBuffer(bytes: [0x50, 0x4B, 0xFF])))
        let encoded = try JSONValue(jsonText: String(buffer: binary))
        #expect(encoded["isBase64Encoded"] == true && encoded["body"] == "UEv/")
    }
}
