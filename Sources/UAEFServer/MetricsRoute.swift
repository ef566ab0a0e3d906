import Foundation
import Hummingbird
import NIOCore
import Prometheus
import UAEFEngine
import UAEFStore

/// `GET /metrics` in the Prometheus text format: what swift-metrics recorded in this process
/// (HTTP requests by route and status with durations, attempts by kind and outcome with
/// durations) and gauges read from the store at each scrape: runs by status, stored attempts by
/// status, queue depth, remote tasks queued, leases held, ledger size, settlements and their totals
/// by currency and status. The figures cover every tenant, so the route needs an `admin` token.
struct MetricsRoute {
    let runtime: ServerRuntime
    let registry: PrometheusCollectorRegistry

    func add(to group: RouterGroup<APIContext>) {
        group.get("metrics") { _, context in
            guard let principal = context.principal, principal.roles.contains(.admin) else {
                throw Problem(.forbidden, "forbidden", "/metrics covers every tenant and needs an admin token")
            }
            try await refresh()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    /// Sets the store gauges to what the store holds now.
    private func refresh() async throws {
        let store = runtime.engine.store
        let statistics = try await store.statistics(now: Date())
        for status in ["pending", "running", "succeeded", "failed", "cancelled"] {
            gauge("uaef_runs", "Runs by status.", [("status", status)]).set(statistics.runs[status] ?? 0)
        }
        for (status, count) in statistics.attempts {
            gauge("uaef_stored_attempts", "Task attempts in the store by status.", [("status", status)]).set(count)
        }
        gauge("uaef_queue_depth", "Tasks ready to run, waiting for an agent or scheduled for a retry.", [])
            .set(statistics.queuedTasks)
        gauge("uaef_remote_tasks_queued", "Remote tasks waiting for their agent to claim them.", [])
            .set(statistics.remoteTasksQueued)
        gauge("uaef_leases_held", "Unfinished runs whose lease a process holds.", []).set(statistics.leasesHeld)
        gauge("uaef_ledger_size", "Events in the ledger (its tree size).", []).set(try await store.treeHead().size)
        for total in statistics.settlements {
            let labels = [("currency", total.currency), ("status", total.status)]
            gauge("uaef_settlements", "Settlements by currency and status.", labels).set(total.count)
            gauge("uaef_settlement_amount_minor_units", "Settlement totals in minor units.", labels)
                .set(total.minorUnits)
        }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}

extension Gauge {
    fileprivate func set(_ value: Int) { set(Int64(value)) }
}
