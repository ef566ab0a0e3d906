import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// Prints a finished run for people or as JSON.
enum RunOutput {
    static func print(_ id: RunID, engine: Engine, json: Bool) async throws {
        guard let snapshot = try await engine.store.snapshot(of: id, tenant: engine.tenant) else {
            throw CLIError.usage("no run \(id) in tenant \(engine.tenant)")
        }
        if json {
            Console.printJSON(RunReport.json(snapshot))
            return
        }
        let run = snapshot.run
        Swift.print("run \(run.id)  workflow \(run.workflowName) v\(run.workflowVersion)  \(run.status.rawValue)")
        if let error = run.error { Swift.print("  error: \(error)") }
        let width = snapshot.tasks.map(\.key.count).max() ?? 0
        for task in snapshot.tasks.sorted(by: { TaskOrder.precedes($0.key, $1.key) }) {
            var line =
                "  " + Console.padded(task.key, width) + "  "
                + Console.padded(task.status.rawValue, 15)
            if task.attempts > 1 { line += " attempts \(task.attempts)" }
            if let agent = task.agentID { line += " agent \(agent)" }
            if let error = task.error, task.status != .succeeded { line += " error: \(error)" }
            if let reason = task.reason, task.status == .skipped || task.status == .waiting { line += " (\(reason))" }
            Swift.print(line)
        }
    }
}

/// Orders task keys so instances follow their parent in index order: `a`, `a[0]`, `a[2]`, `a[10]`.
enum TaskOrder {
    static func precedes(_ a: String, _ b: String) -> Bool {
        let (baseA, indexA) = split(a)
        let (baseB, indexB) = split(b)
        if baseA != baseB { return baseA < baseB }
        return (indexA ?? -1) < (indexB ?? -1)
    }

    private static func split(_ key: String) -> (String, Int?) {
        guard key.hasSuffix("]"), let open = key.lastIndex(of: "[") else { return (key, nil) }
        return (String(key[..<open]), Int(key[key.index(after: open)..<key.index(before: key.endIndex)]))
    }
}
