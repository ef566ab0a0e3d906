import Crypto
import Foundation

/// AWS credentials: an access key, its secret, and a session token for temporary ones.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for requests signed in headers, as the AWS General Reference
/// describes it: canonical request, string to sign, derived signing key, `Authorization`.
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"

    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request of `method` to `url` with `headers` and `body`, signed at
    /// `date`: `X-Amz-Date`, `X-Amz-Security-Token` with a session token, and `Authorization`.
    /// Every header given is signed (with `host`).
    public func signatureHeaders(
        method: String, url: URL, headers: [(String, String)], body: some DataProtocol, date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var signed = headers
        signed.append(("X-Amz-Date", stamp))
        if let token = credentials.sessionToken { signed.append(("X-Amz-Security-Token", token)) }
        if !signed.contains(where: { $0.0.lowercased() == "host" }) {
            signed.append(("host", url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "")))
        }
        let (canonical, signedNames) = Self.canonicalRequest(
            method: method, url: url, headers: signed, payloadHash: Self.hex(SHA256.hash(data: Data(body))))
        let scope = "\(stamp.prefix(8))/\(region)/\(service)/aws4_request"
        let toSign = Self.stringToSign(timestamp: stamp, scope: scope, canonicalRequest: canonical)
        let signature = Self.hex(
            HMAC<SHA256>.authenticationCode(
                for: Data(toSign.utf8),
                using: Self.signingKey(
                    secret: credentials.secretAccessKey, date: String(stamp.prefix(8)), region: region,
                    service: service)))
        var added = [("X-Amz-Date", stamp)]
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        added.append(
            (
                "Authorization",
                "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"
            ))
        return added
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0,
            c.second ?? 0)
    }

    /// The canonical request and its signed header names (`host;x-amz-date`).
    static func canonicalRequest(method: String, url: URL, headers: [(String, String)], payloadHash: String) -> (
        String, String
    ) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            // Values are trimmed and inner runs of spaces folded to one.
            let folded = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            byName[name.lowercased(), default: []].append(folded)
        }
        let names = byName.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        let signedNames = names.joined(separator: ";")
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        let lines = [
            method.uppercased(), canonicalURI(path.isEmpty ? "/" : path), canonicalQuery(url), canonicalHeaders,
            signedNames, payloadHash,
        ]
        return (lines.joined(separator: "\n"), signedNames)
    }

    /// Each path segment decoded, then percent-encoded once (the test suite's `get-space` and
    /// `get-utf8`; SQS and Service Bus paths hold nothing else to tell apart).
    static func canonicalURI(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            encode(String(segment).removingPercentEncoding ?? String(segment))
        }.joined(separator: "/")
    }

    /// The query's parameters, decoded, encoded again and sorted by name, then value.
    static func canonicalQuery(_ url: URL) -> String {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery,
            !query.isEmpty
        else { return "" }
        let pairs = query.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                (String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text))
            }
            return (encode(decoded(parts[0])), parts.count > 1 ? encode(decoded(parts[1])) : "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(
            separator: "&")
    }

    static func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, timestamp, scope, hex(SHA256.hash(data: Data(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    /// HMAC chain: `AWS4` + secret, then date, region, service and `aws4_request`.
    static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`, as UTF-8 bytes.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
