import UAEFCore

/// What the approvals inbox shows: what waits for a decision, split into what the signed-in
/// principal may decide (an approval role of theirs is asked for) and what waits for others.
public struct ApprovalsView: Sendable {
    /// One approval task or settlement waiting for approval.
    public struct Item: Sendable {
        public var id: String
        /// `task` or `settlement`.
        public var kind: String
        /// What is to be approved, in a line: the task's message, or the settlement's amount and accounts.
        public var summary: String
        /// The run the item belongs to (a task's run), or nil.
        public var run: String?
        public var role: String
        public var maker: String
        public var createdAt: String
        public var expiresAt: String?
        /// Shows the approve and reject form (the server still decides, e.g. refuses the maker).
        public var canDecide: Bool
        public var csrf: String
    }

    public var mine: [Item]
    public var others: [Item]
    /// What the last decision did or why it was refused, or nil.
    public var notice: String?
    public var noticeIsError: Bool

    /// The view of `waiting` (the API's `GET /v1/approvals` items) for a principal holding
    /// `approvalRoles`, who may approve when `mayApprove`.
    public init(
        waiting: [JSONValue], approvalRoles: Set<String>, mayApprove: Bool, csrf: String, notice: String? = nil,
        noticeIsError: Bool = false
    ) {
        var mine: [Item] = []
        var others: [Item] = []
        for value in waiting {
            let kind = value["kind"]?.stringValue ?? "task"
            let role = value["role"]?.stringValue ?? ""
            let summary: String
            if kind == "settlement" {
                let to = value["to"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
                summary =
                    "\(value["amount"]?.stringValue ?? "") \(value["currency"]?.stringValue ?? "") by rule \(value["rule"]?.stringValue ?? ""): \(value["from"]?.stringValue ?? "") → \(to)"
            } else {
                summary = "\(value["task"]?.stringValue ?? ""): \(value["message"]?.stringValue ?? "")"
            }
            let ours = approvalRoles.contains(role)
            let item = Item(
                id: value["id"]?.stringValue ?? "", kind: kind, summary: summary, run: value["run_id"]?.stringValue,
                role: role, maker: value["maker"]?.stringValue ?? "", createdAt: value["created_at"]?.stringValue ?? "",
                expiresAt: value["expires_at"]?.stringValue, canDecide: ours && mayApprove, csrf: csrf)
            if ours { mine.append(item) } else { others.append(item) }
        }
        self.mine = mine
        self.others = others
        self.notice = notice
        self.noticeIsError = noticeIsError
    }
}
