import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import UAEFConnectors
import UAEFCore

/// What a Lambda function of UAEF needs and must not keep in its environment variables (visible to
/// whoever may read the function's configuration): the store URL with its password, the token
/// secret and the ledger signing key, read at start from one Secrets Manager secret named by
/// `UAEF_CONFIG_SECRET`, whose `SecretString` is a JSON object:
///
/// ```json
/// {"store": "postgres://uaef:…@db.internal:5432/uaef", "token_secret": "…", "ledger_key": "PRIVATE+KEY+…"}
/// ```
///
/// Each member is optional; one given overrides the environment.
public struct FunctionSecrets: Sendable, Equatable {
    public var store: String?
    public var tokenSecret: String?
    public var ledgerKey: String?

    /// The secret's members; a clear error for a value that is not such an object.
    public init(json text: String) throws(FunctionSecretsError) {
        guard let value = try? JSONValue(jsonText: text), let members = value.objectValue else {
            throw FunctionSecretsError("the secret's value is not a JSON object of store, token_secret, ledger_key")
        }
        let known: Set = ["store", "token_secret", "ledger_key"]
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw FunctionSecretsError(
                "the secret has a member \(unknown.prefix(40).debugDescription); valid: ledger_key, store, token_secret"
            )
        }
        for (key, member) in members where member.stringValue?.isEmpty != false {
            throw FunctionSecretsError("the secret's \(key) must be non-empty text")
        }
        store = members["store"]?.stringValue
        tokenSecret = members["token_secret"]?.stringValue
        ledgerKey = members["ledger_key"]?.stringValue
    }

    /// Reads the secret `id` (a name or ARN) from Secrets Manager with `GetSecretValue` (JSON
    /// protocol 1.1, signed with Signature Version 4 by the function's role credentials from the
    /// environment). The endpoint is the region's (`AWS_REGION`), or `AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// / `AWS_ENDPOINT_URL` when set, as in the AWS SDKs.
    public static func read(
        _ id: String, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger
    ) async throws -> FunctionSecrets {
        guard let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"], !region.isEmpty else {
            throw FunctionSecretsError("AWS_REGION is not set, so Secrets Manager cannot be reached")
        }
        guard let credentials = AWSCredentials.environment(environment) else {
            throw FunctionSecretsError(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)")
        }
        let endpointText =
            environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"] ?? environment["AWS_ENDPOINT_URL"]
            ?? "https://secretsmanager.\(region).amazonaws.com"
        guard let endpoint = URL(string: endpointText), endpoint.host != nil else {
            throw FunctionSecretsError("the Secrets Manager endpoint \(endpointText.prefix(80)) is not a URL")
        }
        let body = Array(JSONValue.object(["SecretId": .string(id)]).jsonText.utf8)
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "secretsmanager.GetSecretValue"),
        ]
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        let signer = SigV4Signer(credentials: credentials, region: region, service: "secretsmanager")
        for (name, value) in headers
            + signer.signatureHeaders(
                method: "POST", url: endpoint, headers: headers, body: body, date: Date())
        {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let client = HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup)
        let status: Int
        let text: String
        do {
            let response = try await client.execute(request, timeout: .seconds(10), logger: logger)
            status = Int(response.status.code)
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw FunctionSecretsError("Secrets Manager at \(endpoint.host ?? "") cannot be reached: \(error)")
        }
        let answer = try? JSONValue(jsonText: text)
        guard status == 200, let secret = answer?["SecretString"]?.stringValue else {
            // JSON errors ({"__type", "Message"}), or XML ones (<Code>, <Message>) from IAM refusals.
            let code =
                answer?["__type"]?.stringValue?.split(separator: "#").last.map(String.init)
                ?? Self.element("Code", in: text) ?? "HTTP \(status)"
            let message =
                answer?["message"]?.stringValue ?? answer?["Message"]?.stringValue ?? Self.element("Message", in: text)
                ?? ""
            throw FunctionSecretsError(
                "GetSecretValue of \(id.prefix(200)) failed: \(code)\(message.isEmpty ? "" : ": \(message.prefix(300))")"
                    + (status == 200 ? " (the secret has no SecretString)" : ""))
        }
        return try FunctionSecrets(json: secret)
    }
}

extension FunctionSecrets {
    /// The text of the first `<name>` element of an XML error.
    static func element(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name)>"),
            let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}

/// Why the function's secrets could not be read.
public struct FunctionSecretsError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = "UAEF_CONFIG_SECRET: " + description }
}
