import Crypto
import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `sqs.send`: sends one message (`body`, with string `attributes`) or up to 100
/// (`messages`: a list of `{body, attributes}`, sent in batches of 10) to an SQS connector's
/// queue. A body that is not text is sent as its JSON text.
///
/// Every message carries the attribute `uaef-message-id`, derived from the run, the task key and
/// the message's position, the same for every attempt: UAEF's SQS consumer (and any receiver)
/// drops a copy a retried attempt sent again. On a FIFO queue it is also the
/// `MessageDeduplicationId`, so SQS itself absorbs the copy within its five-minute window, and
/// `group` (default: the run id) is the `MessageGroupId`. The output is `{"message_ids": [...]}`
/// (with `message_id` for a single message).
public struct SQSSendKind: AgentKind {
    let store: any WorkflowStore
    let resolver: SecretResolver
    let access: ConnectorAccess

    /// The attribute holding the message's stable id.
    public static let messageIDAttribute = "uaef-message-id"

    public init(store: any WorkflowStore, secrets: SecretBox?, access: ConnectorAccess) {
        self.store = store
        resolver = SecretResolver(store: store, box: secrets)
        self.access = access
    }

    public var name: String { "sqs.send" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["connector"], optional: ["body", "attributes", "messages", "group", "delay"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let name = try ConnectorParameter.name(request.parameters, caller: self.name)
        let outgoing = try Self.messages(request)
        let connector = try await ResolvedConnector.load(
            name, kind: .sqs, tenant: request.tenant, store: store, resolver: resolver, caller: self.name)
        return try await connector.scrubber.scrubbing {
            let client = try SQSClient(settings: connector.settings, access: access)
            var messages = outgoing
            if client.isFIFO {
                let group = try Self.group(request)
                for index in messages.indices {
                    messages[index].groupID = group
                    messages[index].deduplicationID = messages[index].attributes[Self.messageIDAttribute]
                }
            } else if let delay = try Self.delay(request) {
                for index in messages.indices { messages[index].delaySeconds = delay }
            }
            var ids: [String] = []
            if messages.count == 1 {
                ids = [try await client.send(messages[0], logger: logger)]
            } else {
                for start in stride(from: 0, to: messages.count, by: SQSClient.maximumBatch) {
                    let batch = Array(messages[start..<min(start + SQSClient.maximumBatch, messages.count)])
                    ids += try await client.sendBatch(batch, logger: logger)
                }
            }
            var output: [String: JSONValue] = ["message_ids": .array(ids.map(JSONValue.string))]
            if ids.count == 1 { output["message_id"] = .string(ids[0]) }
            return .object(output)
        }
    }

    /// The task's messages, checked, each with its `uaef-message-id` attribute.
    static func messages(_ request: AttemptRequest) throws -> [SQSClient.OutgoingMessage] {
        try TaskMessages.parse(
            request, kind: "sqs.send", attributesKey: "attributes", maximumAttributes: 9,
            nameRule: "a name of 1 to 256 bytes not starting with aws. or amazon."
        ) { name in
            (1...256).contains(name.utf8.count) && !name.lowercased().hasPrefix("aws.")
                && !name.lowercased().hasPrefix("amazon.")
        }.map { message in
            var attributes = message.attributes
            attributes[messageIDAttribute] = message.id
            return SQSClient.OutgoingMessage(body: message.body, attributes: attributes)
        }
    }

    /// The FIFO message group: `group`, or the run id.
    static func group(_ request: AttemptRequest) throws -> String {
        guard let given = request.parameters["group"] else { return request.runID.rawValue }
        guard let text = given.stringValue, (1...128).contains(text.utf8.count),
            text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 })
        else {
            throw AgentFailure("sqs.send: `group` must be 1 to 128 printable ASCII characters", retryable: false)
        }
        return text
    }

    /// `delay` in whole seconds, at most 15 minutes (standard queues only).
    static func delay(_ request: AttemptRequest) throws -> Int? {
        guard let given = request.parameters["delay"] else { return nil }
        guard let duration = given.stringValue.flatMap(DurationText.parse), duration >= .zero,
            duration <= .seconds(900)
        else {
            throw AgentFailure("sqs.send: `delay` must be a duration of at most 15m, such as 30s", retryable: false)
        }
        return Int(duration.components.seconds)
    }
}

/// The messages a task of a queue kind sends: `body` (with its attributes or properties under
/// `attributesKey`), or `messages`, a list of up to ``maximum`` `{body, <attributesKey>}`. A body
/// that is not text is sent as its JSON text. Each message gets its stable id.
enum TaskMessages {
    struct Message {
        var body: String
        var attributes: [String: String]
        /// The ``MessageIdentity`` of the task and the message's position.
        var id: String
    }

    /// The most messages one task sends.
    static let maximum = 100

    static func parse(
        _ request: AttemptRequest, kind: String, attributesKey: String, maximumAttributes: Int, nameRule: String,
        isValidName: (String) -> Bool
    ) throws -> [Message] {
        let parameters = request.parameters
        let entries: [(body: JSONValue?, attributes: JSONValue?)]
        switch (parameters["body"], parameters["messages"]) {
        case (.some(let body), nil):
            entries = [(body, parameters[attributesKey])]
        case (nil, .some(let list)):
            guard let elements = list.arrayValue, (1...maximum).contains(elements.count) else {
                throw AgentFailure(
                    "\(kind): `messages` must be a list of 1 to \(maximum) {body, \(attributesKey)}", retryable: false)
            }
            entries = elements.map { ($0["body"], $0[attributesKey]) }
        default:
            throw AgentFailure("\(kind): give `body` or `messages`, one of them", retryable: false)
        }
        return try entries.enumerated().map { index, entry in
            guard let body = entry.body else {
                throw AgentFailure("\(kind): message \(index) has no `body`", retryable: false)
            }
            var attributes: [String: String] = [:]
            if let given = entry.attributes {
                guard let members = given.objectValue, members.count <= maximumAttributes else {
                    throw AgentFailure(
                        "\(kind): `\(attributesKey)` must map at most \(maximumAttributes) names to text or numbers",
                        retryable: false)
                }
                for (name, value) in members {
                    guard let text = value.stringValue ?? value.numberValue.map({ "\($0)" }), isValidName(name),
                        name.lowercased() != SQSSendKind.messageIDAttribute
                    else {
                        throw AgentFailure(
                            "\(kind): \(attributesKey) \(name.prefix(40).debugDescription) must be \(nameRule) (not \(SQSSendKind.messageIDAttribute)), with a text or number value",
                            retryable: false)
                    }
                    attributes[name] = text
                }
            }
            return Message(
                body: body.stringValue ?? body.jsonText, attributes: attributes,
                id: MessageIdentity.id(of: request, index: index))
        }
    }
}

/// Ids derived from an attempt's run and task, the same for every attempt of the task: what lets
/// a receiver drop a message a retried attempt sent again.
enum MessageIdentity {
    /// 32 hex digits of SHA-256 over the tenant, run, task key, for a task that sends several
    /// messages the message's position and, for a task a retry ran again from scratch, that
    /// retry (``TaskCheckpoint/afreshRetry``).
    static func id(of request: AttemptRequest, index: Int? = nil, afresh: Int? = nil) -> String {
        var text = "\(request.tenant)\u{0}\(request.runID.rawValue)\u{0}\(request.key)"
        if let index { text += "\u{0}\(index)" }
        if let afresh { text += "\u{0}afresh\u{0}\(afresh)" }
        return SHA256.hash(data: Data(text.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
