/// Checks what spans tasks: unique ids, known dependencies, no cycles, and expressions that only
/// read what exists when they are evaluated.
struct WorkflowGraphCheck {
    struct Finding {
        let field: String
        let line: Int?
        let message: String
    }

    /// Where a parsed task sits in the file: its index in `tasks` and its line.
    struct Position {
        let index: Int
        let line: Int?
    }

    let definition: WorkflowDefinition
    /// One position per task of `definition`, in the same order.
    let positions: [Position]
    /// Every task id the file declares, with its position: also those of tasks that are invalid
    /// otherwise (an unknown kind, say), so duplicates and dependencies are judged against the file.
    let declared: [(id: String, position: Position)]
    private let byID: [String: TaskDefinition]
    var issues: [Finding] = []

    init(definition: WorkflowDefinition, positions: [Position], declared: [(id: String, position: Position)]) {
        self.definition = definition
        self.positions = positions
        self.declared = declared
        byID = Dictionary(definition.tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private mutating func report(_ field: String, _ offset: Int, _ message: String) {
        issues.append(
            Finding(field: "tasks[\(positions[offset].index)]" + field, line: positions[offset].line, message: message))
    }

    mutating func check() {
        var seen: Set<String> = []
        for (id, position) in declared where !seen.insert(id).inserted {
            issues.append(
                Finding(
                    field: "tasks[\(position.index)].id", line: position.line, message: "duplicate task id \"\(id)\""))
        }
        let ids = seen
        for (offset, task) in definition.tasks.enumerated() {
            for (position, dependency) in task.dependsOn.enumerated()
            where !ids.contains(dependency) || dependency == task.id {
                let field = ".depends_on[\(position)]"
                if dependency == task.id {
                    report(field, offset, "task \"\(task.id)\" depends on itself")
                } else {
                    report(
                        field, offset,
                        "unknown task \"\(dependency)\"; tasks in this workflow: \(ids.sorted().joined(separator: ", "))"
                    )
                }
            }
        }
        if let cycle = findCycle(), let offset = definition.tasks.firstIndex(where: { $0.id == cycle.first }) {
            report(".depends_on", offset, "dependency cycle: \(cycle.joined(separator: " -> "))")
            return
        }
        for offset in definition.tasks.indices {
            checkExpressions(of: offset)
        }
    }

    /// A cycle as a path that starts and ends on the same task, or nil.
    func findCycle() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var path: [String] = []
        func visit(_ id: String) -> [String]? {
            if marks[id] == .done { return nil }
            if marks[id] == .visiting, let start = path.firstIndex(of: id) { return Array(path[start...]) + [id] }
            marks[id] = .visiting
            path.append(id)
            for dependency in byID[id]?.dependsOn ?? [] where byID[dependency] != nil && dependency != id {
                if let cycle = visit(dependency) { return cycle }
            }
            path.removeLast()
            marks[id] = .done
            return nil
        }
        for task in definition.tasks {
            if let cycle = visit(task.id) {
                // Found walking dependencies (a needs b), so reverse to read in execution order.
                return cycle.reversed()
            }
        }
        return nil
    }

    /// Every task that must finish before `id` starts.
    func ancestors(of id: String) -> Set<String> {
        var result: Set<String> = []
        var stack = byID[id]?.dependsOn ?? []
        while let next = stack.popLast() {
            guard result.insert(next).inserted else { continue }
            stack += byID[next]?.dependsOn ?? []
        }
        return result
    }

    private mutating func checkExpressions(of offset: Int) {
        let task = definition.tasks[offset]
        let readsTasks =
            (task.parameters.expressions + (task.condition?.expressions ?? []) + (task.forEach?.expressions ?? []))
            .flatMap(\.referencedPaths).contains { $0.first == "tasks" }
        let upstream = readsTasks ? ancestors(of: task.id) : []
        let fanOut = task.forEach != nil
        let groups: [(String, [Expression], Bool)] = [
            ("with", task.parameters.expressions, fanOut),
            ("when", task.condition?.expressions ?? [], false),
            ("for_each", task.forEach?.expressions ?? [], false),
        ]
        for (name, expressions, allowsItem) in groups {
            for path in expressions.flatMap(\.referencedPaths) {
                if let problem = problem(with: path, upstream: upstream, allowsItem: allowsItem) {
                    report(".\(name)", offset, problem)
                }
            }
        }
    }

    private func problem(with path: [String], upstream: Set<String>, allowsItem: Bool) -> String? {
        let roots = ["inputs", "tasks", "run"] + (allowsItem ? ["item", "index"] : [])
        guard let root = path.first, roots.contains(root) else {
            let hint =
                ["item", "index"].contains(path.first)
                ? " (item and index exist only in the with of a for_each task)" : ""
            return "unknown name '\(path.first ?? "")'; valid names: \(roots.joined(separator: ", "))\(hint)"
        }
        switch root {
        case "inputs":
            if path.count > 1, definition.inputs[path[1]] == nil {
                let declared = definition.inputs.keys.sorted().joined(separator: ", ")
                return "unknown input '\(path[1])'; declared inputs: \(declared.isEmpty ? "none" : declared)"
            }
        case "run":
            if path.count > 1, !["id", "name", "retry_count"].contains(path[1]) {
                return "run has only id, name and retry_count, not '\(path[1])'"
            }
        case "tasks":
            guard path.count > 1 else { return nil }
            let id = path[1]
            guard definition.task(id) != nil else { return "unknown task '\(id)' in tasks.\(id)" }
            guard upstream.contains(id) else {
                return
                    "reads tasks.\(id) but does not depend on '\(id)' (directly or through other tasks); add it to depends_on"
            }
            if path.count > 2, !["output", "status"].contains(path[2]) {
                return "tasks.\(id) has output and status, not '\(path[2])'"
            }
        default: break
        }
        return nil
    }
}
