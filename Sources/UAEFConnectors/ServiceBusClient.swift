import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// An Azure Service Bus queue or topic (or a topic's subscription, for receiving) reached through
/// the REST API: send (one message, or a batch as `application/vnd.microsoft.servicebus.json`),
/// peek-lock receive (`POST …/messages/head`), complete (`DELETE` on the lock), unlock (`PUT`)
/// and renew (`POST`). Requests carry a shared access signature made from the connector's key
/// (valid for an hour) or its bearer token, and go out under the process's outbound policy.
public struct ServiceBusClient: Sendable {
    /// `https://{namespace}.servicebus.windows.net/{entity}`, or under the connector's `endpoint`.
    public let entityURL: URL
    let authorization: Authorization
    let outbound: OutboundHTTP

    enum Authorization: Sendable {
        case sas(keyName: String, key: String)
        case bearer(String)
    }

    /// The largest message (body and properties) the Standard tier takes, in bytes.
    public static let maximumMessageBytes = 262_144
    /// How long a signature made for a request stays valid.
    static let signatureLifetime: TimeInterval = 3_600

    /// A client for the connector `settings` (secrets resolved).
    public init(settings: [String: JSONValue], access: ConnectorAccess) throws {
        guard let namespace = settings["namespace"]?.stringValue, let entity = settings["entity"]?.stringValue else {
            throw AgentFailure("servicebus: the connector has no namespace or entity", retryable: false)
        }
        let base = settings["endpoint"]?.stringValue ?? "https://\(namespace).servicebus.windows.net"
        let path = entity.split(separator: "/").map { SigV4Signer.encode(String($0)) }.joined(separator: "/")
        guard let url = URL(string: (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + path) else {
            throw AgentFailure("servicebus: \(base) and \(entity) do not make a URL", retryable: false)
        }
        if let keyName = settings["sas_key_name"]?.stringValue, let key = settings["sas_key"]?.stringValue {
            authorization = .sas(keyName: keyName, key: key)
        } else if let token = settings["token"]?.stringValue {
            authorization = .bearer(token)
        } else {
            throw AgentFailure(
                "servicebus: the connector needs sas_key_name and sas_key, or token", retryable: false)
        }
        entityURL = url
        outbound = OutboundHTTP(policy: access.policy)
    }

    /// A message to send: its body, the `MessageId` the broker's duplicate detection compares,
    /// and custom properties (sent as quoted strings).
    public struct OutgoingMessage: Sendable {
        public var body: String
        public var messageID: String?
        public var properties: [String: String]
        public var contentType: String

        public init(
            body: String, messageID: String? = nil, properties: [String: String] = [:],
            contentType: String = "application/json"
        ) {
            self.body = body
            self.messageID = messageID
            self.properties = properties
            self.contentType = contentType
        }

        var brokerProperties: JSONValue {
            messageID.map { ["MessageId": .string($0)] } ?? .object([:])
        }
    }

    /// A peek-locked message: the URI of its lock (which completes, unlocks or renews it), its
    /// ids, body, custom properties and delivery count.
    public struct ReceivedMessage: Sendable, Hashable {
        public var lock: URL
        public var messageID: String
        public var body: String
        public var properties: [String: String]
        public var deliveryCount: Int
    }

    /// Sends one message.
    public func send(_ message: OutgoingMessage, logger: Logger) async throws {
        try Self.checkSize(message)
        var request = try request(.POST, entityURL.appendingPathComponent("messages"))
        request.headers.add(name: "Content-Type", value: message.contentType)
        request.headers.add(name: "BrokerProperties", value: message.brokerProperties.jsonText)
        for (name, value) in message.properties.sorted(by: { $0.key < $1.key }) {
            try OutboundHTTP.checkHeader(name, value, by: "servicebus")
            request.headers.add(name: name, value: Self.quoted(value))
        }
        request.body = .bytes(ByteBuffer(string: message.body))
        try await call(request, "send", expecting: [201], logger: logger)
    }

    /// Sends up to 100 messages in one request.
    public func sendBatch(_ messages: [OutgoingMessage], logger: Logger) async throws {
        guard (1...100).contains(messages.count) else {
            throw AgentFailure("servicebus: a batch holds 1 to 100 messages, not \(messages.count)", retryable: false)
        }
        for message in messages { try Self.checkSize(message) }
        let body = JSONValue.array(
            messages.map { message in
                [
                    "Body": .string(message.body), "BrokerProperties": message.brokerProperties,
                    "UserProperties": .object(message.properties.mapValues(JSONValue.string)),
                ]
            })
        var request = try request(.POST, entityURL.appendingPathComponent("messages"))
        request.headers.add(name: "Content-Type", value: "application/vnd.microsoft.servicebus.json")
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        try await call(request, "send a batch", expecting: [201], logger: logger)
    }

    /// Takes the next message under a peek-lock, waiting up to `timeout` for one; nil when none came.
    public func peekLock(timeout: Duration, logger: Logger) async throws -> ReceivedMessage? {
        let seconds = Int(timeout.components.seconds)
        guard
            let url = URL(
                string: entityURL.appendingPathComponent("messages/head").absoluteString + "?timeout=\(seconds)")
        else { throw AgentFailure("servicebus: no receive URL for \(entityURL)", retryable: false) }
        let request = try request(.POST, url)
        let (response, body) = try await call(
            request, "receive", expecting: [201, 204], timeout: timeout + .seconds(10), logger: logger)
        guard response.status.code == 201 else { return nil }
        guard let location = response.headers.first(name: "Location").flatMap(URL.init(string:)),
            Self.sameOrigin(location, entityURL)
        else {
            throw AgentFailure("servicebus: a received message has no lock Location on \(Self.origin(entityURL))")
        }
        let broker = response.headers.first(name: "BrokerProperties").flatMap { try? JSONValue(jsonText: $0) }
        var properties: [String: String] = [:]
        let reserved: Set<String> = [
            "content-type", "brokerproperties", "transfer-encoding", "server", "location", "date", "content-length",
            "connection", "strict-transport-security",
        ]
        for header in response.headers where !reserved.contains(header.name.lowercased()) {
            properties[header.name] = Self.unquoted(header.value)
        }
        return ReceivedMessage(
            lock: location, messageID: broker?["MessageId"]?.stringValue ?? location.lastPathComponent,
            body: String(buffer: body), properties: properties,
            deliveryCount: broker?["DeliveryCount"]?.numberValue?.intValue ?? 1)
    }

    /// Completes a locked message: the broker removes it.
    public func complete(_ lock: URL, logger: Logger) async throws {
        try await call(try request(.DELETE, lock), "complete", expecting: [200], logger: logger)
    }

    /// Unlocks a message: the broker hands it out again (and counts the delivery).
    public func unlock(_ lock: URL, logger: Logger) async throws {
        try await call(try request(.PUT, lock), "unlock", expecting: [200], logger: logger)
    }

    /// Renews a message's lock for another lock duration.
    public func renew(_ lock: URL, logger: Logger) async throws {
        try await call(try request(.POST, lock), "renew the lock of", expecting: [200], logger: logger)
    }

    /// Reads the entity's description: proves the credentials and that the entity exists.
    public func describe(logger: Logger) async throws {
        try await call(try request(.GET, entityURL), "describe", expecting: [200], logger: logger)
    }

    private func request(_ method: HTTPMethod, _ url: URL) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        let value: String
        switch authorization {
        case .sas(let keyName, let key):
            value = ServiceBusSAS.token(
                resource: entityURL.absoluteString, keyName: keyName, key: key,
                expiry: Int64(Date().timeIntervalSince1970 + Self.signatureLifetime))
        case .bearer(let token):
            value = "Bearer " + token
        }
        try OutboundHTTP.checkHeader("Authorization", value, by: "servicebus")
        request.headers.add(name: "Authorization", value: value)
        return request
    }

    @discardableResult
    private func call(
        _ request: HTTPClientRequest, _ action: String, expecting codes: Set<UInt>, timeout: Duration = .seconds(30),
        logger: Logger
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        var request = request
        // The REST API wants a length on bodiless POST, PUT and DELETE requests.
        if request.body == nil && request.method != .GET { request.headers.add(name: "Content-Length", value: "0") }
        guard let url = URL(string: request.url) else {
            throw AgentFailure("servicebus: \(request.url) is not a URL", retryable: false)
        }
        let (response, body) = try await outbound.send(
            request, to: url, method: request.method.rawValue, by: "servicebus \(action)",
            timeout: TimeAmount(timeout), logger: logger)
        let status = response.status.code
        guard codes.contains(status) else {
            let detail = Self.detail(String(buffer: body))
            var meaning = ""
            switch status {
            case 401: meaning = " (the signature or token is refused)"
            case 404 where ["complete", "unlock", "renew the lock of"].contains(action):
                meaning = " (the lock is lost or expired)"
            case 404, 410: meaning = " (the entity does not exist)"
            case 403: meaning = " (quota exceeded or message too large)"
            default: break
            }
            throw AgentFailure(
                "servicebus: \(action) \(OutboundHTTP.redacted(entityURL)) answered \(status)\(meaning): \(detail)",
                retryable: status >= 500 || status == 429 || status == 408)
        }
        return (response, body)
    }

    /// The `<Detail>` of a Service Bus error body, or the body's start.
    static func detail(_ text: String) -> String {
        if let start = text.range(of: "<Detail>"), let end = text.range(of: "</Detail>"),
            start.upperBound <= end.lowerBound
        {
            return String(text[start.upperBound..<end.lowerBound].prefix(300))
        }
        return String(text.prefix(300))
    }

    private static func checkSize(_ message: OutgoingMessage) throws {
        let bytes =
            message.body.utf8.count + message.properties.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= maximumMessageBytes else {
            throw AgentFailure(
                "servicebus: a message (body and properties) must hold at most \(maximumMessageBytes) bytes; this one holds \(bytes)",
                retryable: false)
        }
    }

    /// A custom property's value as a header: a quoted string, so the broker keeps it a string.
    static func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func unquoted(_ value: String) -> String {
        guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else { return value }
        return String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            .replacingOccurrences(of: "\\\\", with: "\\")
    }

    static func origin(_ url: URL) -> String {
        "\(url.scheme ?? "")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")"
    }

    /// Whether a lock URI the broker gave is on the entity's own origin: credentials never follow
    /// a URI to another host.
    static func sameOrigin(_ url: URL, _ other: URL) -> Bool {
        url.scheme == other.scheme && url.host?.lowercased() == other.host?.lowercased() && url.port == other.port
    }
}

/// A Service Bus connector's entity as a consumer sees it: one peek-locked message at a time,
/// waiting up to the connector's `wait_time` (20 s by default), renewed every `lock_renewal`
/// (30 s by default: half the default lock), completed when done, unlocked when it failed.
public struct ServiceBusQueue: MessageQueue {
    let client: ServiceBusClient
    let wait: Duration
    public let renewalInterval: Duration

    public init(client: ServiceBusClient, settings: [String: JSONValue]) {
        self.client = client
        wait = settings["wait_time"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(20)
        renewalInterval = settings["lock_renewal"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(30)
    }

    public func receive(logger: Logger) async throws -> [LockedMessage] {
        guard let message = try await client.peekLock(timeout: wait, logger: logger) else { return [] }
        return [
            LockedMessage(
                id: LockedMessage.id(
                    sent: message.properties[SQSSendKind.messageIDAttribute], broker: message.messageID),
                body: message.body,
                lock: message.lock.absoluteString, deliveryCount: message.deliveryCount)
        ]
    }

    public func complete(_ messages: [LockedMessage], logger: Logger) async throws {
        for message in messages { try await client.complete(try lock(message), logger: logger) }
    }

    public func abandon(_ message: LockedMessage, logger: Logger) async throws {
        try await client.unlock(try lock(message), logger: logger)
    }

    public func renew(_ message: LockedMessage, logger: Logger) async throws {
        try await client.renew(try lock(message), logger: logger)
    }

    private func lock(_ message: LockedMessage) throws -> URL {
        guard let url = URL(string: message.lock) else {
            throw AgentFailure("servicebus: \(message.lock) is not a lock URI", retryable: false)
        }
        return url
    }
}
