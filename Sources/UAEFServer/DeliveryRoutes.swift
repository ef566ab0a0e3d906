import Hummingbird
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

/// Subscription deliveries: `GET /v1/deliveries` lists them (any reader), and operators replay a
/// connector's dead deliveries and resume a subscription a receiver paused (both ledger events).
struct DeliveryRoutes {
    let runtime: ServerRuntime
    let bodyLimit: Int

    /// The most ids one replay names.
    static let maximumReplayIDs = 1_000

    func add(to group: RouterGroup<APIContext>) {
        group.get("deliveries") { request, context in
            let principal = try context.require(.read)
            let limit = try request.integerQuery("limit", in: 1...1000) ?? 50
            let before = try request.integerQuery("before", in: 0...Int(Int64.max)).map(Int64.init)
            var status: DeliveryStatus?
            if let text = try request.textQuery("status") {
                guard let parsed = DeliveryStatus(rawValue: text) else {
                    let valid = DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    throw Problem.badRequest("status=\(text.prefix(40)) is not a delivery state; use one of \(valid)")
                }
                status = parsed
            }
            let page = try await registry(principal.tenant).deliveries(
                connector: try request.textQuery("connector"), status: status, before: before, limit: limit + 1)
            let shown = page.prefix(limit)
            return JSONMessage.response([
                "deliveries": .array(shown.map(ConnectorJSON.delivery)),
                "next_before": page.count > limit ? .number(Number(Int(shown.last!.eventSeq))) : .null,
            ])
        }
        group.post("connectors/:name/deliveries/replay") { request, context in
            let principal = try context.require(.operateDeliveries)
            let name = try context.parameters.require("name")
            let body = try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true)
            try JSONMessage.checkMembers(body, allowed: ["ids"], in: "the replay request")
            var ids: [String]?
            if let given = body["ids"] {
                let list = given.arrayValue ?? []
                let texts = list.compactMap(\.stringValue)
                guard (1...Self.maximumReplayIDs).contains(list.count), texts.count == list.count,
                    texts.allSatisfy({ (1...256).contains($0.utf8.count) })
                else {
                    throw Problem(
                        .unprocessableContent, "validation-failed",
                        "ids: expected a list of 1 to \(Self.maximumReplayIDs) delivery ids (strings of at most 256 bytes); leave it out to replay every dead delivery"
                    )
                }
                ids = texts
            }
            let replayed = try await Self.mapped {
                try await registry(principal.tenant).replayDeliveries(name, ids: ids, actor: principal.actor)
            }
            return JSONMessage.response([
                "replayed": .number(Number(replayed.count)), "ids": .array(replayed.map(JSONValue.string)),
            ])
        }
        group.post("connectors/:name/subscription/resume") { _, context in
            let principal = try context.require(.operateDeliveries)
            let name = try context.parameters.require("name")
            let paused = try await Self.mapped {
                try await registry(principal.tenant).resumeSubscription(name, actor: principal.actor)
            }
            return JSONMessage.response(["was_paused": paused.map(JSONValue.string) ?? .null])
        }
    }

    /// `body`'s result; a missing connector is a 404 and one without a subscription a 409.
    private static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DeliveriesError {
            switch error {
            case .noConnector(let name, _): throw Problem.notFound("connector \(name.prefix(64))")
            case .noSubscription: throw Problem(.conflict, "no-subscription", error.description)
            }
        }
    }

    private func registry(_ tenant: String) -> ConnectorRegistry {
        ConnectorRegistry(store: runtime.engine.store, tenant: tenant)
    }
}
