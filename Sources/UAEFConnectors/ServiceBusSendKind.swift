import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `servicebus.send`: sends one message (`body`, with string `properties`) or up
/// to 100 (`messages`: a list of `{body, properties}`, in one batch request) to a Service Bus
/// connector's queue or topic. A body that is not text is sent as its JSON text.
///
/// Each message's `MessageId` is derived from the run, the task key and the message's position,
/// the same for every attempt, so an entity with duplicate detection drops a copy a retried
/// attempt sent again; the custom property `uaef-message-id` carries the same id for
/// receivers (UAEF's own consumer dedupes by it). The output is `{"message_ids": [...]}`.
public struct ServiceBusSendKind: AgentKind {
    let store: any WorkflowStore
    let resolver: SecretResolver
    let access: ConnectorAccess

    public init(store: any WorkflowStore, secrets: SecretBox?, access: ConnectorAccess) {
        self.store = store
        resolver = SecretResolver(store: store, box: secrets)
        self.access = access
    }

    public var name: String { "servicebus.send" }
    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["connector"], optional: ["body", "properties", "messages"])
    }

    /// Header names a custom property may not take: the REST API's own.
    static let reservedNames: Set<String> = [
        "authorization", "brokerproperties", "content-type", "content-length", "host", "transfer-encoding",
        "connection", "x-ms-retrypolicy", "location", "date", "server",
    ]

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        let name = try ConnectorParameter.name(request.parameters, caller: self.name)
        let messages = try TaskMessages.parse(
            request, kind: self.name, attributesKey: "properties", maximumAttributes: 32,
            nameRule: "an HTTP header name that the REST API does not use itself"
        ) { name in
            !name.isEmpty && name.utf8.count <= 128 && name.allSatisfy(OutboundHTTP.tokenCharacters.contains)
                && !Self.reservedNames.contains(name.lowercased())
        }.map { message in
            var properties = message.attributes
            properties[SQSSendKind.messageIDAttribute] = message.id
            return ServiceBusClient.OutgoingMessage(body: message.body, messageID: message.id, properties: properties)
        }
        let connector = try await ResolvedConnector.load(
            name, kind: .servicebus, tenant: request.tenant, store: store, resolver: resolver, caller: self.name)
        return try await connector.scrubber.scrubbing {
            let client = try ServiceBusClient(settings: connector.settings, access: access)
            if messages.count == 1 {
                try await client.send(messages[0], logger: logger)
            } else {
                try await client.sendBatch(messages, logger: logger)
            }
            let ids = messages.compactMap(\.messageID)
            var output: [String: JSONValue] = ["message_ids": .array(ids.map(JSONValue.string))]
            if ids.count == 1 { output["message_id"] = .string(ids[0]) }
            return .object(output)
        }
    }
}
