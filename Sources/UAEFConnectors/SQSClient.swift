import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// An Amazon SQS queue reached through the JSON protocol (`application/x-amz-json-1.0`,
/// `X-Amz-Target: AmazonSQS.<Action>`), every request signed with Signature Version 4 and sent
/// under the process's outbound policy. Failures are ``AgentFailure``s naming the action and
/// the queue, retryable when SQS says the fault is its own or asks to slow down.
public struct SQSClient: Sendable {
    /// The queue every action addresses.
    public let queueURL: URL
    /// Where requests are posted: the connector's `endpoint`, else the queue URL's origin.
    public let endpoint: URL
    let signer: SigV4Signer
    let outbound: OutboundHTTP

    /// The largest message body SQS takes, in bytes (its classic 256 KiB limit, which every
    /// queue accepts).
    public static let maximumMessageBytes = 262_144
    /// The most messages one `SendMessageBatch` or `ReceiveMessage` carries.
    public static let maximumBatch = 10

    /// A client for the connector `settings` (secrets resolved): `queue_url`, `region`,
    /// `endpoint`, and `access_key_id`/`secret_access_key`/`session_token`, or else `ambient`
    /// credentials when the process grants them (see ``ConnectorAccess``).
    public init(settings: [String: JSONValue], access: ConnectorAccess) throws {
        guard let queueText = settings["queue_url"]?.stringValue, let queueURL = URL(string: queueText),
            let region = settings["region"]?.stringValue
        else {
            throw AgentFailure("sqs: the connector has no queue_url or region", retryable: false)
        }
        let credentials: AWSCredentials
        if let key = settings["access_key_id"]?.stringValue, let secret = settings["secret_access_key"]?.stringValue {
            credentials = AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: settings["session_token"]?.stringValue)
        } else if let ambient = access.ambientAWSCredentials {
            credentials = ambient
        } else {
            throw AgentFailure(
                "sqs: the connector names no access_key_id and secret_access_key, and this process does not lend its own AWS credentials (uaef serve --allow-environment-credentials)",
                retryable: false)
        }
        var origin = URLComponents()
        origin.scheme = queueURL.scheme
        origin.host = queueURL.host
        origin.port = queueURL.port
        origin.path = "/"
        guard let endpoint = settings["endpoint"]?.stringValue.flatMap(URL.init(string:)) ?? origin.url else {
            throw AgentFailure("sqs: the queue_url has no host", retryable: false)
        }
        self.queueURL = queueURL
        self.endpoint = endpoint
        signer = SigV4Signer(credentials: credentials, region: region, service: "sqs")
        outbound = OutboundHTTP(policy: access.policy)
    }

    /// A message to send. `groupID` and `deduplicationID` are for FIFO queues.
    public struct OutgoingMessage: Sendable {
        public var body: String
        public var attributes: [String: String]
        public var groupID: String?
        public var deduplicationID: String?
        public var delaySeconds: Int?

        public init(
            body: String, attributes: [String: String] = [:], groupID: String? = nil, deduplicationID: String? = nil,
            delaySeconds: Int? = nil
        ) {
            self.body = body
            self.attributes = attributes
            self.groupID = groupID
            self.deduplicationID = deduplicationID
            self.delaySeconds = delaySeconds
        }

        var members: [String: JSONValue] {
            var members: [String: JSONValue] = ["MessageBody": .string(body)]
            if !attributes.isEmpty {
                members["MessageAttributes"] = .object(
                    attributes.mapValues { ["DataType": "String", "StringValue": .string($0)] })
            }
            if let groupID { members["MessageGroupId"] = .string(groupID) }
            if let deduplicationID { members["MessageDeduplicationId"] = .string(deduplicationID) }
            if let delaySeconds { members["DelaySeconds"] = .number(Number(delaySeconds)) }
            return members
        }
    }

    /// A received message: its id, the handle that deletes it or changes its visibility, its
    /// body and string attributes, and how many times it has been received.
    public struct ReceivedMessage: Sendable, Hashable {
        public var id: String
        public var receiptHandle: String
        public var body: String
        public var attributes: [String: String]
        public var receiveCount: Int
    }

    /// Whether the queue is FIFO (its name ends in `.fifo`).
    public var isFIFO: Bool { queueURL.lastPathComponent.hasSuffix(".fifo") }

    /// `SendMessage`; the message id SQS assigned.
    public func send(_ message: OutgoingMessage, logger: Logger) async throws -> String {
        try Self.checkSize(message)
        var members = message.members
        members["QueueUrl"] = .string(queueURL.absoluteString)
        let answer = try await call("SendMessage", .object(members), logger: logger)
        guard let id = answer["MessageId"]?.stringValue else {
            throw AgentFailure("sqs: SendMessage to \(queueName) answered without a MessageId")
        }
        return id
    }

    /// `SendMessageBatch` of at most ``maximumBatch`` messages; the message ids in order, or a
    /// failure naming the first entry SQS refused.
    public func sendBatch(_ messages: [OutgoingMessage], logger: Logger) async throws -> [String] {
        guard (1...Self.maximumBatch).contains(messages.count) else {
            throw AgentFailure(
                "sqs: a batch holds 1 to \(Self.maximumBatch) messages, not \(messages.count)", retryable: false)
        }
        for message in messages { try Self.checkSize(message) }
        let entries = messages.enumerated().map { index, message -> JSONValue in
            var members = message.members
            members["Id"] = .string("m\(index)")
            return .object(members)
        }
        let answer = try await call(
            "SendMessageBatch", ["QueueUrl": .string(queueURL.absoluteString), "Entries": .array(entries)],
            logger: logger)
        if let failed = answer["Failed"]?.arrayValue?.first {
            throw AgentFailure(
                "sqs: SendMessageBatch to \(queueName) refused entry \(failed["Id"]?.stringValue ?? "?"): \(failed["Code"]?.stringValue ?? "") \(failed["Message"]?.stringValue ?? "")",
                retryable: failed["SenderFault"] != .bool(true))
        }
        var ids: [String: String] = [:]
        for entry in answer["Successful"]?.arrayValue ?? [] {
            if let entryID = entry["Id"]?.stringValue, let id = entry["MessageId"]?.stringValue { ids[entryID] = id }
        }
        return try messages.indices.map { index in
            guard let id = ids["m\(index)"] else {
                throw AgentFailure("sqs: SendMessageBatch to \(queueName) did not answer for entry m\(index)")
            }
            return id
        }
    }

    /// `ReceiveMessage`: up to `maximum` messages, waiting up to `wait` for the first (long
    /// polling), hidden from other consumers for `visibility` (nil: the queue's setting).
    public func receive(maximum: Int, wait: Duration, visibility: Duration?, logger: Logger) async throws
        -> [ReceivedMessage]
    {
        var members: [String: JSONValue] = [
            "QueueUrl": .string(queueURL.absoluteString),
            "MaxNumberOfMessages": .number(Number(min(max(maximum, 1), Self.maximumBatch))),
            "WaitTimeSeconds": .number(Number(Int(wait.components.seconds))),
            "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
            "AttributeNames": ["ApproximateReceiveCount"],
        ]
        if let visibility { members["VisibilityTimeout"] = .number(Number(Int(visibility.components.seconds))) }
        let answer = try await call(
            "ReceiveMessage", .object(members), timeout: wait + .seconds(10), logger: logger)
        return (answer["Messages"]?.arrayValue ?? []).compactMap { message in
            guard let id = message["MessageId"]?.stringValue, let handle = message["ReceiptHandle"]?.stringValue
            else { return nil }
            var attributes: [String: String] = [:]
            for (name, value) in message["MessageAttributes"]?.objectValue ?? [:] {
                if let text = value["StringValue"]?.stringValue { attributes[name] = text }
            }
            return ReceivedMessage(
                id: id, receiptHandle: handle, body: message["Body"]?.stringValue ?? "", attributes: attributes,
                receiveCount: message["Attributes"]?["ApproximateReceiveCount"]?.stringValue.flatMap { Int($0) } ?? 1)
        }
    }

    /// `DeleteMessageBatch` of at most ``maximumBatch`` receipt handles; fails naming the first
    /// entry SQS could not delete.
    public func deleteBatch(_ receiptHandles: [String], logger: Logger) async throws {
        let entries = receiptHandles.enumerated().map { index, handle -> JSONValue in
            ["Id": .string("d\(index)"), "ReceiptHandle": .string(handle)]
        }
        let answer = try await call(
            "DeleteMessageBatch", ["QueueUrl": .string(queueURL.absoluteString), "Entries": .array(entries)],
            logger: logger)
        if let failed = answer["Failed"]?.arrayValue?.first {
            throw AgentFailure(
                "sqs: DeleteMessageBatch on \(queueName) failed for entry \(failed["Id"]?.stringValue ?? "?"): \(failed["Code"]?.stringValue ?? "") \(failed["Message"]?.stringValue ?? "")"
            )
        }
    }

    /// `ChangeMessageVisibility`: hides the message for `visibility` more from now (zero makes
    /// it visible again at once).
    public func changeVisibility(_ receiptHandle: String, to visibility: Duration, logger: Logger) async throws {
        _ = try await call(
            "ChangeMessageVisibility",
            [
                "QueueUrl": .string(queueURL.absoluteString), "ReceiptHandle": .string(receiptHandle),
                "VisibilityTimeout": .number(Number(Int(visibility.components.seconds))),
            ], logger: logger)
    }

    /// `GetQueueAttributes`: the queue's attributes (proves the queue exists and the
    /// credentials may read it).
    public func attributes(logger: Logger) async throws -> [String: String] {
        let answer = try await call(
            "GetQueueAttributes", ["QueueUrl": .string(queueURL.absoluteString), "AttributeNames": ["All"]],
            logger: logger)
        return (answer["Attributes"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    var queueName: String { queueURL.lastPathComponent }

    private static func checkSize(_ message: OutgoingMessage) throws {
        let bytes =
            message.body.utf8.count + message.attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= maximumMessageBytes, !message.body.isEmpty else {
            throw AgentFailure(
                "sqs: a message (body and attributes) must hold 1 to \(maximumMessageBytes) bytes; this one holds \(bytes)",
                retryable: false)
        }
    }

    /// One signed JSON-protocol call; the answer's JSON object.
    func call(_ action: String, _ body: JSONValue, timeout: Duration = .seconds(30), logger: Logger)
        async throws -> JSONValue
    {
        let bytes = Array(body.jsonText.utf8)
        let headers = [
            ("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.\(action)"),
        ]
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        for (name, value) in signer.signatureHeaders(
            method: "POST", url: endpoint, headers: headers, body: bytes, date: Date())
        {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let (response, answer) = try await outbound.send(
            request, to: endpoint, method: "POST", by: "sqs \(action)", timeout: TimeAmount(timeout), logger: logger)
        let status = Int(response.status.code)
        let text = String(buffer: answer)
        guard (200..<300).contains(status) else {
            let error = Self.error(in: text)
            let throttled = ["ThrottlingException", "RequestThrottled", "ServiceUnavailable"].contains(error.code)
            throw AgentFailure(
                "sqs: \(action) on \(queueName) answered \(status) \(error.code): \(error.message)",
                retryable: status >= 500 || status == 429 || throttled)
        }
        return text.isEmpty ? .object([:]) : (try? JSONValue(jsonText: text)) ?? .object([:])
    }

    /// The error code and message of an SQS error answer: JSON `{"__type": "…#Code", "message"}`,
    /// or the query protocol's XML `<Code>`/`<Message>` (which signature refusals still use).
    static func error(in text: String) -> (code: String, message: String) {
        if let json = try? JSONValue(jsonText: text), let type = json["__type"]?.stringValue {
            return (
                String(type.split(separator: "#").last ?? Substring(type)),
                json["message"]?.stringValue ?? json["Message"]?.stringValue ?? ""
            )
        }
        func element(_ name: String) -> String? {
            guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>"),
                start.upperBound <= end.lowerBound
            else { return nil }
            return String(text[start.upperBound..<end.lowerBound])
        }
        return (element("Code") ?? "Unknown", String((element("Message") ?? text).prefix(300)))
    }
}

/// An SQS connector's queue as a consumer sees it: received with the connector's `wait_time`
/// (20 s by default) and `visibility_timeout` (30 s by default), renewed at half the timeout,
/// deleted when done. A failed message is not made visible early: it comes back when its
/// visibility ends, and the queue's redrive policy moves it to a dead-letter queue after its
/// `maxReceiveCount`.
public struct SQSQueue: MessageQueue {
    let client: SQSClient
    let wait: Duration
    let visibility: Duration

    public init(client: SQSClient, settings: [String: JSONValue]) {
        self.client = client
        wait = settings["wait_time"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(20)
        visibility = settings["visibility_timeout"]?.stringValue.flatMap(DurationText.parse) ?? .seconds(30)
    }

    public var renewalInterval: Duration { max(visibility / 2, .seconds(1)) }

    public func receive(logger: Logger) async throws -> [LockedMessage] {
        try await client.receive(maximum: SQSClient.maximumBatch, wait: wait, visibility: visibility, logger: logger)
            .map { message in
                LockedMessage(
                    id: LockedMessage.id(sent: message.attributes[SQSSendKind.messageIDAttribute], broker: message.id),
                    body: message.body,
                    lock: message.receiptHandle, deliveryCount: message.receiveCount)
            }
    }

    public func complete(_ messages: [LockedMessage], logger: Logger) async throws {
        for start in stride(from: 0, to: messages.count, by: SQSClient.maximumBatch) {
            let batch = messages[start..<min(start + SQSClient.maximumBatch, messages.count)]
            try await client.deleteBatch(batch.map(\.lock), logger: logger)
        }
    }

    public func abandon(_ message: LockedMessage, logger: Logger) async throws {}

    public func renew(_ message: LockedMessage, logger: Logger) async throws {
        try await client.changeVisibility(message.lock, to: visibility, logger: logger)
    }
}
