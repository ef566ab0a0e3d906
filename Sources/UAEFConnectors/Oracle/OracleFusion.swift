import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// One Oracle Fusion Cloud ERP pod's REST API (`{url}/fscmRestApi/resources/{version}/…`) reached
/// as an integration user with Basic authentication over HTTPS.
///
/// Requests ask for Oracle's structured errors (`Accept: application/json,
/// application/vnd.oracle.adf.error+json`); an error is read from that form (`title`,
/// `o:errorDetails[].detail`, `o:errorCode`) or, as Fusion answers by default, from plain text.
/// References: Oracle "REST API for Oracle Fusion Cloud Financials" (Payables Invoices, ERP
/// Integrations, Status Codes) and the notes in docs/erp-references/oracle.md.
final class OracleFusion: Sendable {
    let resources: URL
    private let authorization: String
    private let http: HTTPClient
    let timeout: TimeAmount

    /// The pod an `oracle` connector's resolved settings describe, reached under `policy`.
    static func make(settings: [String: JSONValue], policy: OutboundPolicy) async throws -> OracleFusion {
        guard let text = settings["url"]?.stringValue,
            let base = URL(string: text.hasSuffix("/") ? String(text.dropLast()) : text)
        else { throw AgentFailure("oracle: the connector has no url", retryable: false) }
        let version = settings["api_version"]?.stringValue ?? "11.13.18.05"
        guard version.allSatisfy({ $0.isNumber || $0 == "." }) || version == "latest",
            let resources = URL(string: base.absoluteString + "/fscmRestApi/resources/" + version)
        else {
            throw AgentFailure(
                "oracle: api_version \(version.prefix(20).debugDescription) is not a version such as 11.13.18.05",
                retryable: false)
        }
        let user = settings["user"]?.stringValue ?? ""
        let password = settings["password"]?.stringValue ?? ""
        let http = try await OutboundHTTP(policy: policy).client(
            for: base, method: "POST", by: "oracle", connections: 64)
        let timeout = settings["timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(60)
        return OracleFusion(
            resources: resources, authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString(),
            http: http, timeout: TimeAmount(timeout))
    }

    private init(resources: URL, authorization: String, http: HTTPClient, timeout: TimeAmount) {
        self.resources = resources
        self.authorization = authorization
        self.http = http
        self.timeout = timeout
    }

    func shutdown() async { try? await http.shutdown() }

    /// Reads `path` (under the resources root) with `query`; the JSON answered.
    func get(_ path: String, query: [(String, String)] = [], logger: Logger) async throws -> JSONValue {
        try await exchange("GET", path, query: query, body: nil, contentType: nil, logger: logger).value
    }

    /// Posts `body` to `path` as `contentType`; the status and the JSON answered.
    func post(_ path: String, body: JSONValue, contentType: String, logger: Logger) async throws -> (
        status: Int, value: JSONValue
    ) {
        try await exchange("POST", path, query: [], body: body, contentType: contentType, logger: logger)
    }

    private func exchange(
        _ method: String, _ path: String, query: [(String, String)], body: JSONValue?, contentType: String?,
        logger: Logger
    ) async throws -> (status: Int, value: JSONValue) {
        var text = resources.absoluteString + "/" + path
        if !query.isEmpty { text += "?" + ODataV2.query(query) }
        guard let url = URL(string: text) else {
            throw AgentFailure("oracle: \(path.prefix(80)) does not make a valid URL", retryable: false)
        }
        var request = HTTPClientRequest(url: text)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json, application/vnd.oracle.adf.error+json")
        request.headers.add(name: "Authorization", value: authorization)
        if let body, let contentType {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let (response, buffer) = try await OutboundHTTP.execute(
            request, on: http, to: url, method: method, by: "oracle", timeout: timeout, logger: logger)
        let status = Int(response.status.code)
        let bodyText = String(buffer: buffer)
        guard status < 400 else {
            let error = Self.ServiceError(status: status, body: bodyText)
            throw AgentFailure("oracle: \(method) \(path): \(error)", retryable: error.retryable)
        }
        guard status < 300 else {
            throw AgentFailure(
                "oracle: \(method) \(path) answered \(status), a redirect, which is not followed", retryable: false)
        }
        guard let value = try? JSONValue(jsonText: bodyText) else {
            throw AgentFailure("oracle: \(method) \(path) answered \(status) without a JSON body")
        }
        return (status, value)
    }

    /// What Fusion said went wrong.
    struct ServiceError: Sendable, CustomStringConvertible {
        var status: Int
        /// Oracle's message code, such as `AP-810776`; empty when none was given.
        var code: String
        var message: String

        /// Read from Oracle's error JSON (`title`, `o:errorDetails`) or its plain text.
        init(status: Int, body: String) {
            self.status = status
            if let value = try? JSONValue(jsonText: body), value.objectValue != nil {
                let details = value["o:errorDetails"]?.arrayValue ?? []
                let texts = details.compactMap { $0["detail"]?.stringValue }
                code =
                    details.compactMap { $0["o:errorCode"]?.stringValue }.first ?? value["o:errorCode"]?.stringValue
                    ?? ""
                message =
                    texts.isEmpty
                    ? String((value["detail"]?.stringValue ?? value["title"]?.stringValue ?? "").prefix(500))
                    : texts.prefix(5).map { String($0.prefix(500)) }.joined(separator: "; ")
            } else {
                code = ""
                let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
                message = trimmed.hasPrefix("<") ? "" : String(trimmed.prefix(300))
            }
            if message.isEmpty { message = "the service answered without a message" }
            if code.isEmpty, let open = message.lastIndex(of: "("), message.hasSuffix(")") {
                let candidate = message[message.index(after: open)..<message.index(before: message.endIndex)]
                if candidate.contains("-"), candidate.count <= 20 { code = String(candidate) }
            }
        }

        var description: String { "HTTP \(status)\(code.isEmpty ? "" : " \(code)"): \(message)" }

        /// 429 and 5xx may pass; other 4xx will not.
        var retryable: Bool { status == 429 || status >= 500 }
    }
}
