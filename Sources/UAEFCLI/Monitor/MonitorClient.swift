import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UAEFCore

/// Reads what the monitor shows from a server's `/v1` API with a bearer token, so the
/// token's tenant and roles bound it exactly as they bound any API client.
struct MonitorClient: Sendable {
    let server: String
    let token: String

    /// Why the server did not answer as expected.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The runs under `filter` (newest first, `limit` of them) with their task counts, the tasks
    /// of `selected`, the agents and the latest failed runs. Runs that had already ended in
    /// `previous` keep the counts read then (an ended run's tasks change no more); the others'
    /// reports are read at once, side by side.
    func snapshot(filter: String?, selected: String?, limit: Int, previous: MonitorSnapshot = MonitorSnapshot())
        async throws -> MonitorSnapshot
    {
        var snapshot = MonitorSnapshot()
        let query = "limit=\(limit)" + (filter.map { "&status=\($0)" } ?? "")
        let listed = try await get("/v1/runs?\(query)")["runs"]?.arrayValue ?? []
        let runs = listed.compactMap(MonitorSnapshot.Run.init(summary:))
        let shown = selected ?? runs.first?.id
        let unread = MonitorSnapshot.reportsToRead(runs, previous: previous, selected: shown)
        let reports = try await withThrowingTaskGroup(of: (String, [String: JSONValue]).self) { group in
            for id in unread {
                group.addTask { (id, try await get("/v1/runs/\(id)")["tasks"]?.objectValue ?? [:]) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let known = Dictionary(previous.runs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for var run in runs {
            if let tasks = reports[run.id] {
                let ended = ["succeeded", "failed", "skipped", "cancelled"]
                run.finishedTasks = tasks.values.filter { ended.contains($0["status"]?.stringValue ?? "") }.count
                run.tasks = tasks.count
                if run.id == shown {
                    snapshot.selectedTasks = tasks.sorted { $0.key < $1.key }.map { key, task in
                        MonitorSnapshot.Task(
                            key: key, status: task["status"]?.stringValue ?? "",
                            attempts: task["attempts"]?.numberValue?.intValue ?? 0,
                            agent: task["agent"]?.stringValue, error: task["error"]?.stringValue)
                    }
                }
            } else if let earlier = known[run.id] {
                (run.finishedTasks, run.tasks) = (earlier.finishedTasks, earlier.tasks)
            }
            snapshot.runs.append(run)
        }
        snapshot.agents = (try await get("/v1/agents")["agents"]?.arrayValue ?? []).map { agent in
            MonitorSnapshot.Agent(
                name: agent["name"]?.stringValue ?? "", status: agent["status"]?.stringValue ?? "",
                running: agent["metrics"]?["running_now"]?.numberValue?.intValue ?? 0,
                maxConcurrency: agent["max_concurrency"]?.numberValue?.intValue ?? 0,
                p95Milliseconds: agent["metrics"]?["p95_ms"]?.numberValue?.intValue,
                failures: agent["metrics"]?["failures"]?.numberValue?.intValue ?? 0)
        }
        snapshot.failures = (try await get("/v1/runs?status=failed&limit=3")["runs"]?.arrayValue ?? []).compactMap(
            MonitorSnapshot.Run.init(summary:))
        snapshot.time = Date()
        return snapshot
    }

    /// Asks the server to cancel `run`.
    func cancel(_ run: String) async throws {
        _ = try await send(.POST, "/v1/runs/\(run)/cancel")
    }

    private func get(_ path: String) async throws -> JSONValue { try await send(.GET, path) }

    private func send(_ method: HTTPMethod, _ path: String) async throws -> JSONValue {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 8 << 20)
        let value = (try? JSONValue(jsonText: String(buffer: body))) ?? .null
        guard (200..<300).contains(response.status.code) else {
            throw Failure(
                description:
                    "\(method.rawValue) \(path): \(response.status.code) \(value["detail"]?.stringValue ?? response.status.reasonPhrase)"
            )
        }
        return value
    }
}
