import Foundation
import Hummingbird
import UAEFCore
import UAEFStore

extension AnalyticsQuery {
    /// The query of `request`'s parameters; a bad one is a 400 naming it.
    init(dimension: AnalyticsDimension, request query: (String) throws -> String?) throws {
        do {
            try self.init(dimension: dimension, query: query, now: Date())
        } catch let invalid as AnalyticsQuery.Invalid {
            throw Problem.badRequest(invalid.description)
        }
    }
}

/// `GET /v1/analytics/{dimension}`: throughput, success rates, duration percentiles, cost and
/// settled amounts over time, from the hourly buckets ``AnalyticsRollup`` keeps.
struct AnalyticsRoutes {
    let operations: APIOperations

    func add(to group: RouterGroup<APIContext>) {
        group.get("analytics/:dimension") { request, context in
            let principal = try context.require(.read)
            let name = try context.parameters.require("dimension")
            guard let dimension = AnalyticsDimension(rawValue: name) else {
                let valid = AnalyticsDimension.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.notFound("analytics dimension \(name.prefix(40)) (there are \(valid))")
            }
            let query = try AnalyticsQuery(dimension: dimension, request: request.textQuery)
            let (report, cursor) = try await operations.store.analytics(query, tenant: principal.tenant)
            return JSONMessage.response(report.json(countedBefore: cursor))
        }
    }
}
