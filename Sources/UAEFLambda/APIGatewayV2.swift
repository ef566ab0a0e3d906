import Foundation
import NIOCore
import UAEFCore
import UAEFServer

/// API Gateway HTTP API events in payload format 2.0, from AWS's "Working with AWS Lambda proxy
/// integrations for HTTP APIs" reference (and the fixture events of the `aws-lambda-go` events
/// library): the request as the event (`version` "2.0", `rawPath`, `rawQueryString`,
/// `cookies`, `headers` with repeated values joined by commas, `body` with `isBase64Encoded`,
/// `requestContext.http` with `method` and `sourceIp`), and the answer as `statusCode`,
/// `headers`, `cookies` (each `Set-Cookie`), `body` and `isBase64Encoded`.
public enum APIGatewayV2 {
    /// What is wrong with an event that is not an HTTP API request.
    public struct InvalidEvent: Error, CustomStringConvertible {
        public var description: String
    }

    /// The request `event` carries.
    public static func request(from event: ByteBuffer) throws(InvalidEvent) -> APIResponder.Request {
        guard let value = try? JSONValue(jsonText: String(buffer: event)), value.objectValue != nil else {
            throw InvalidEvent(description: "the event is not a JSON object")
        }
        guard value["version"]?.stringValue == "2.0" else {
            throw InvalidEvent(
                description:
                    "the event is not an API Gateway HTTP API request in payload format 2.0 (version \(value["version"]?.jsonText.prefix(20) ?? "missing")); set PayloadFormatVersion 2.0 on the integration"
            )
        }
        let http = value["requestContext"]?["http"]
        guard let method = http?["method"]?.stringValue, !method.isEmpty,
            let path = value["rawPath"]?.stringValue, path.hasPrefix("/")
        else { throw InvalidEvent(description: "the event has no requestContext.http.method or rawPath") }
        var headers: [(name: String, value: String)] = []
        for (name, member) in (value["headers"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let text = member.stringValue else {
                throw InvalidEvent(description: "header \(name.prefix(64)) is not text")
            }
            headers.append((name, text))
        }
        if let cookies = value["cookies"]?.arrayValue, !cookies.isEmpty {
            headers.append(("cookie", cookies.compactMap(\.stringValue).joined(separator: "; ")))
        }
        var body = ByteBuffer()
        if let text = value["body"]?.stringValue {
            if value["isBase64Encoded"] == .bool(true) {
                guard let data = Data(base64Encoded: text) else {
                    throw InvalidEvent(description: "the body is marked isBase64Encoded but is not base64")
                }
                body = ByteBuffer(bytes: data)
            } else {
                body = ByteBuffer(string: text)
            }
        }
        let query = value["rawQueryString"]?.stringValue ?? ""
        return APIResponder.Request(
            method: method, target: query.isEmpty ? path : path + "?" + query, headers: headers, body: body,
            clientAddress: http?["sourceIp"]?.stringValue,
            id: value["requestContext"]?["requestId"]?.stringValue ?? UUID().uuidString)
    }

    /// The answer API Gateway turns into `response`: `Set-Cookie` headers become `cookies`, other
    /// repeated headers are joined by commas, and a body that is not text is base64.
    public static func answer(_ response: APIResponder.Response) -> ByteBuffer {
        var headers: [String: String] = [:]
        var cookies: [JSONValue] = []
        for (name, value) in response.headers {
            let key = name.lowercased()
            if key == "set-cookie" {
                cookies.append(.string(value))
            } else {
                headers[key] = headers[key].map { $0 + ", " + value } ?? value
            }
        }
        var object: [String: JSONValue] = [
            "statusCode": .number(Number(response.status)),
            "headers": .object(headers.mapValues(JSONValue.string)),
        ]
        if !cookies.isEmpty { object["cookies"] = .array(cookies) }
        let bytes = Array(response.body.readableBytesView)
        if isText(headers["content-type"]), let text = String(validating: bytes, as: UTF8.self) {
            object["body"] = .string(text)
            object["isBase64Encoded"] = false
        } else {
            object["body"] = .string(Data(bytes).base64EncodedString())
            object["isBase64Encoded"] = true
        }
        return ByteBuffer(string: JSONValue.object(object).jsonText)
    }

    /// Whether a body of `contentType` is sent as text (JSON, XML, `text/…`, or none given).
    static func isText(_ contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        else { return true }
        return type.hasPrefix("text/") || type.hasSuffix("json") || type.hasSuffix("xml")
            || type == "application/javascript" || type == "application/x-www-form-urlencoded"
    }
}
