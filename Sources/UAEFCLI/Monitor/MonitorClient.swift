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

    /// The runs under `filter` (newest first, `limit` of them) with their task counts (one list
    /// request asks for them all), the tasks of `selected` (or of the newest run), the agents and
    /// the latest failed runs.
    func snapshot(filter: String?, selected: String?, limit: Int) async throws -> MonitorSnapshot {
        var snapshot = MonitorSnapshot()
        let query = "limit=\(limit)&include=task_counts" + (filter.map { "&status=\($0)" } ?? "")
        snapshot.runs = (try await get("/v1/runs?\(query)")["runs"]?.arrayValue ?? []).compactMap(
            MonitorSnapshot.Run.init(summary:))
        if let shown = selected ?? snapshot.runs.first?.id {
            let tasks = try await get("/v1/runs/\(shown)")["tasks"]?.objectValue ?? [:]
            snapshot.selectedTasks = tasks.sorted { $0.key < $1.key }.map { key, task in
                MonitorSnapshot.Task(
                    key: key, status: task["status"]?.stringValue ?? "",
                    attempts: task["attempts"]?.numberValue?.intValue ?? 0,
                    agent: task["agent"]?.stringValue, error: task["error"]?.stringValue)
            }
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
