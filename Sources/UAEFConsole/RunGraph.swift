/// A workflow's tasks drawn as an SVG graph, left to right: each task a box in the column of its
/// longest chain of dependencies, with its state as a colour and as text (never colour alone),
/// and an arrow from each dependency to the task that waits for it. A fanned-out task is one box
/// that counts its instances by state.
public struct RunGraph: Sendable {
    /// One task of the graph.
    public struct Node: Sendable, Hashable {
        public var id: String
        public var dependsOn: [String]
        /// The task's state (a ``TaskStatus`` raw value), which picks the box's colour.
        public var status: String
        /// A second line under the state, e.g. `3 of 5 instances succeeded`; nil for none.
        public var detail: String?

        public init(id: String, dependsOn: [String], status: String, detail: String? = nil) {
            self.id = id
            self.dependsOn = dependsOn
            self.status = status
            self.detail = detail
        }
    }

    /// Where a node sits: its column (depth) and its row within the column.
    public struct Position: Sendable, Hashable {
        public var column: Int
        public var row: Int
    }

    public var nodes: [Node]

    public init(nodes: [Node]) { self.nodes = nodes }

    static let boxWidth = 180
    static let boxHeight = 48
    static let columnGap = 56
    static let rowGap = 14
    static let margin = 8

    /// Each node's column (one more than its deepest dependency's; dependencies that are not
    /// nodes are ignored) and row (its order among the nodes of its column).
    public func layout() -> [String: Position] {
        let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var columns: [String: Int] = [:]
        func column(of id: String, visiting: Set<String>) -> Int {
            if let known = columns[id] { return known }
            // A cycle cannot pass validation; if one did, its back edge is ignored, not followed.
            let dependencies = (byID[id]?.dependsOn ?? []).filter { byID[$0] != nil && !visiting.contains($0) }
            let depth = dependencies.map { column(of: $0, visiting: visiting.union([id])) + 1 }.max() ?? 0
            columns[id] = depth
            return depth
        }
        var rows: [Int: Int] = [:]
        var positions: [String: Position] = [:]
        for node in nodes where positions[node.id] == nil {
            let depth = column(of: node.id, visiting: [])
            positions[node.id] = Position(column: depth, row: rows[depth, default: 0])
            rows[depth, default: 0] += 1
        }
        return positions
    }

    /// The graph as an inline SVG element, each box linking to `#task-<anchor>` of its task.
    public func svg() -> String {
        let positions = layout()
        let columns = (positions.values.map(\.column).max() ?? 0) + 1
        let rows = (positions.values.map(\.row).max() ?? 0) + 1
        let width = Self.margin * 2 + columns * Self.boxWidth + (columns - 1) * Self.columnGap
        let height = Self.margin * 2 + rows * Self.boxHeight + (rows - 1) * Self.rowGap
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            role="img" aria-label="Task graph: \(nodes.count) tasks">\
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" \
            orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>
            """
        for node in nodes {
            guard let to = positions[node.id] else { continue }
            for dependency in node.dependsOn {
                guard let from = positions[dependency] else { continue }
                let x1 = Self.x(from) + Self.boxWidth
                let y1 = Self.y(from) + Self.boxHeight / 2
                let x2 = Self.x(to)
                let y2 = Self.y(to) + Self.boxHeight / 2
                let middle = (x1 + x2) / 2
                svg +=
                    "<path class=\"edge\" marker-end=\"url(#arrow)\" d=\"M\(x1),\(y1) C\(middle),\(y1) \(middle),\(y2) \(x2),\(y2)\"/>"
            }
        }
        for node in nodes {
            guard let position = positions[node.id] else { continue }
            let x = Self.x(position)
            let y = Self.y(position)
            let label = [node.id, node.status, node.detail].compactMap { $0 }.joined(separator: ", ")
            svg += "<a href=\"#task-\(Self.anchor(node.id))\"><g class=\"node s-\(HTML.escape(node.status))\">"
            svg += "<title>\(HTML.escape(label))</title>"
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(Self.boxWidth)\" height=\"\(Self.boxHeight)\" rx=\"6\"/>"
            svg +=
                "<text x=\"\(x + 8)\" y=\"\(y + 19)\" font-weight=\"600\">\(HTML.escape(Self.clip(node.id, 24)))</text>"
            let second = node.detail.map { "\(node.status) · \($0)" } ?? node.status
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 37)\">\(HTML.escape(Self.clip(second, 28)))</text></g></a>"
        }
        return svg + "</svg>"
    }

    /// The fragment id of a task's row: its key with anything but letters, digits, `-` and `_`
    /// replaced, so that `fetch[3]` links to `#task-fetch-3-`.
    public static func anchor(_ key: String) -> String {
        // Most keys are plain ASCII already.
        let plain = key.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_")
        }
        return plain ? key : String(key.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
    }

    private static func x(_ position: Position) -> Int { margin + position.column * (boxWidth + columnGap) }
    private static func y(_ position: Position) -> Int { margin + position.row * (boxHeight + rowGap) }

    private static func clip(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }
}
