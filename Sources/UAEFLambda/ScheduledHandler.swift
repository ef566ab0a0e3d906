import Foundation
import Logging
import NIOCore
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFServer
import UAEFSettlement
import UAEFStore

/// The `scheduled` handler: an EventBridge schedule's event (`detail-type` "Scheduled Event",
/// from the `aws-lambda-go` events library's fixtures) runs the upkeep that `uaef serve` does in
/// the background, for every tenant: due schedules fire (their runs executed in the same slot),
/// runs left unfinished whose lease is free or expired are
/// taken over and executed (until the invocation's deadline, when they are left resumable), new
/// outcomes are settled and expired settlement approvals closed, subscriptions forward what is
/// new in the log and due now (as `deliveries.send` would), a ledger checkpoint is signed, and
/// the analytics buckets count the new events (up to ``analyticsLimit`` a slot; the next slot
/// goes on). Every step is idempotent, so a slot delivered twice (EventBridge delivers at least
/// once) does nothing twice.
///
/// Attempts queued for workers serving other capabilities are left to those workers (or to
/// `attempts.execute` messages): a slot taking them would run them where their capability may
/// not be.
public struct ScheduledHandler: LambdaHandler {
    let runtime: ServerRuntime
    /// The tenants' connectors, for their subscriptions' deliveries.
    let connectors: ConnectorWorkers

    public init(runtime: ServerRuntime, connectors: ConnectorWorkers) {
        self.runtime = runtime
        self.connectors = connectors
    }

    /// The most events one slot counts for analytics (about a second's work): a function started
    /// on a large existing log catches up over several slots.
    static let analyticsLimit = 200_000

    public func handle(_ event: ByteBuffer, context: LambdaContext) async throws -> ByteBuffer {
        guard let value = try? JSONValue(jsonText: String(buffer: event)), let slot = value["time"]?.stringValue,
            value["detail-type"]?.stringValue != nil
        else {
            throw LambdaHandlerError(
                type: "UAEF.InvalidEvent", "scheduled: the event is not an EventBridge event (detail-type, time)")
        }
        let store = runtime.engine.store
        let scheduler = Scheduler(engine: runtime.engine, leased: false)
        var schedulesFired = 0
        while true {
            let claimed = try await scheduler.fireDue(now: Date())
            schedulesFired += claimed
            if claimed < scheduler.batch { break }
        }
        var resumed = 0
        var settled = 0
        var expired = 0
        var delivered = 0
        let tenants = try await store.tenants()
        for tenant in tenants {
            let engine = runtime.engine.forTenant(tenant)
            resumed += try await engine.resume().count
            let report = try await engine.settle()
            settled += report.settlements.count
            expired += report.expired
            delivered += try await connectors.deliverDue(tenant: tenant)
        }
        let checkpoint = try await Checkpointer(store: store, signer: runtime.signer).checkpoint()
        let counted = try await AnalyticsRollup(store: store).catchUp(limit: Self.analyticsLimit)
        context.logger.info(
            "scheduled upkeep done",
            metadata: [
                "slot": "\(slot)", "tenants": "\(tenants.count)", "resumed": "\(resumed)",
                "deliveries": "\(delivered)",
            ])
        let answer: JSONValue = [
            "slot": .string(slot), "tenants": .number(Number(tenants.count)),
            "schedules_fired": .number(Number(schedulesFired)), "runs_resumed": .number(Number(resumed)),
            "settlements": .number(Number(settled)), "approvals_expired": .number(Number(expired)),
            "deliveries_attempted": .number(Number(delivered)),
            "tree_size": .number(Number(Int(checkpoint.split(separator: "\n").dropFirst().first ?? "") ?? 0)),
            "analytics_events_counted": .number(Number(counted)),
        ]
        return ByteBuffer(string: answer.jsonText)
    }
}
