import Foundation
import UAEFCore

/// A schedule: which workflow to start, with which inputs, at which times, and what to do when
/// a slot comes while the run of the one before is still going, or was missed while no server
/// ran.
///
/// ```yaml
/// schedules:
///   - name: nightly-reconcile
///     workflow: reconcile-accounts
///     cron: "30 2 * * MON-FRI"      # or every: 15m (with an optional offset: 5m)
///     time_zone: Europe/Berlin      # cron only; default UTC
///     inputs: {ledger: main}
///     slot_input: as_of             # optional: the input that receives the slot's time
///     overlap: skip                 # skip (default), allow, cancel_other, buffer_one or buffer_all
///     catchup_window: 24h           # default; slots missed longer ago are not started
/// ```
public struct ScheduleDefinition: Sendable, Hashable {
    /// What to do with a slot that comes while the schedule's last run has not ended.
    public enum Overlap: String, Sendable, Hashable, CaseIterable {
        /// Start nothing for it (recorded as skipped).
        case skip
        /// Start its run beside the running one.
        case allow
        /// Cancel the running one and start its run: the latest slot wins.
        case cancelOther = "cancel_other"
        /// Hold it until the running one ends, then start its run; slots that come while one is
        /// held start nothing (recorded as skipped).
        case bufferOne = "buffer_one"
        /// Hold it and every later one, and start their runs one after another, each when the one
        /// before has ended (slots older than the catch-up window are missed).
        case bufferAll = "buffer_all"

        /// Whether a slot that comes while the last run is unfinished waits for its end.
        public var buffers: Bool { self == .bufferOne || self == .bufferAll }
    }

    public var name: String
    public var workflow: String
    /// Nil for the latest version when each slot fires.
    public var version: Int?
    public var times: ScheduleTimes
    public var inputs: [String: JSONValue]
    /// The workflow input that receives each slot's time (RFC 3339, UTC), if any.
    public var slotInput: String?
    public var overlap: Overlap
    /// How late a slot may still start its run (after a time with no server running).
    public var catchupWindow: Duration

    /// The catch-up window unless one is given: a night's outage still runs the nightly work.
    public static let defaultCatchupWindow = Duration.seconds(24 * 3_600)
    /// The most schedules one tenant has: each is work for every server.
    public static let maximumSchedules = 1_000

    /// Whether `text` is a valid schedule name: 1 to 64 of a-z, 0-9, `-`, `_` and `.`.
    public static func isValidName(_ text: String) -> Bool { text.utf8.count <= 64 && AgentSpec.isValidName(text) }

    /// The stored form, read back by ``init(stored:)``: the keys of the file form.
    public var json: [String: JSONValue] {
        var members: [String: JSONValue] = [
            "name": .string(name), "workflow": .string(workflow), "inputs": .object(inputs),
            "overlap": .string(overlap.rawValue), "catchup_window": .string(DurationText.format(catchupWindow)),
        ]
        if let version { members["version"] = .number(Number(version)) }
        if let slotInput { members["slot_input"] = .string(slotInput) }
        switch times {
        case .cron(let expression, let zone):
            members["cron"] = .string(expression.description)
            members["time_zone"] = .string(zone.name)
        case .every(let interval, let offset):
            members["every"] = .string(DurationText.format(interval))
            if offset > .zero { members["offset"] = .string(DurationText.format(offset)) }
        }
        return members
    }

    /// Reads a stored definition (written by ``json``).
    public init(stored members: [String: JSONValue], name: String) throws(ValidationFailure) {
        var reader = ScheduleReader(file: "stored schedule \(name)")
        let definition: ScheduleDefinition?
        switch YAMLSource.parse(JSONValue.object(members).jsonText, file: reader.file) {
        case .success(let source): definition = reader.schedule(source, field: "")
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        guard reader.issues.isEmpty, let definition else { throw ValidationFailure(issues: reader.issues) }
        self = definition
    }

    init(
        name: String, workflow: String, version: Int?, times: ScheduleTimes, inputs: [String: JSONValue],
        slotInput: String?, overlap: Overlap, catchupWindow: Duration
    ) {
        self.name = name
        self.workflow = workflow
        self.version = version
        self.times = times
        self.inputs = inputs
        self.slotInput = slotInput
        self.overlap = overlap
        self.catchupWindow = catchupWindow
    }
}

/// Reads `schedules:` files.
public enum ScheduleParser {
    /// Every schedule in a `schedules:` document, or every problem found in it.
    public static func parse(_ text: String, file: String) throws(ValidationFailure) -> [ScheduleDefinition] {
        var reader = ScheduleReader(file: file)
        return try reader.document(text, key: "schedules", noun: "schedule", name: \.name) {
            reader, source, field in reader.schedule(source, field: field)
        }
    }
}

/// One validation pass over schedule definitions.
struct ScheduleReader: DefinitionReading {
    let file: String
    var issues: [ValidationIssue] = []

    init(file: String) { self.file = file }

    static let keys: Set<String> = [
        "name", "workflow", "version", "cron", "time_zone", "every", "offset", "inputs", "slot_input", "overlap",
        "catchup_window",
    ]

    mutating func schedule(_ source: YAMLSource, field: String) -> ScheduleDefinition? {
        let before = issues.count
        guard let fields = mapping(source, field: field, allowed: Self.keys) else { return nil }
        func path(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }
        let name = required(fields, "name", path: path, line: source.line)
        if let name, !ScheduleDefinition.isValidName(name) {
            report(
                path("name"), fields["name"]?.line,
                "\"\(name.prefix(70))\" is not a schedule name; use 1 to 64 of a-z, 0-9, '-', '_' and '.'")
        }
        let workflow = required(fields, "workflow", path: path, line: source.line)
        let version = integer(fields["version"], field: path("version"), range: 1...Int(Int32.max))
        let times = self.times(fields, path: path, line: source.line)
        var inputs: [String: JSONValue] = [:]
        if let value = json(fields["inputs"], field: path("inputs")) {
            if case .object(let members) = value {
                inputs = members
                if let violation = ValueLimits.check(value) {
                    report(path("inputs"), fields["inputs"]?.line, violation.description)
                }
            } else {
                report(path("inputs"), fields["inputs"]?.line, "expected a mapping of workflow inputs to values")
            }
        }
        let slotInput = string(fields["slot_input"], field: path("slot_input"))
        if let slotInput, inputs[slotInput] != nil {
            report(
                path("slot_input"), fields["slot_input"]?.line,
                "input '\(slotInput)' is given in inputs too; the slot's time fills it, so leave it out of inputs")
        }
        var overlap = ScheduleDefinition.Overlap.skip
        if let text = string(fields["overlap"], field: path("overlap")) {
            if let value = ScheduleDefinition.Overlap(rawValue: text) {
                overlap = value
            } else {
                let valid = ScheduleDefinition.Overlap.allCases.map(\.rawValue).joined(separator: ", ")
                report(
                    path("overlap"), fields["overlap"]?.line,
                    "\"\(text.prefix(40))\" is not an overlap policy; valid: \(valid)")
            }
        }
        var catchupWindow = ScheduleDefinition.defaultCatchupWindow
        if let window = duration(fields["catchup_window"], field: path("catchup_window")) {
            if window < .seconds(60) || window > ScheduleTimes.longestInterval {
                report(
                    path("catchup_window"), fields["catchup_window"]?.line,
                    "must be from 1m to \(DurationText.format(ScheduleTimes.longestInterval))")
            }
            catchupWindow = window
        }
        guard issues.count == before, let name, let workflow, let times else { return nil }
        return ScheduleDefinition(
            name: name, workflow: workflow, version: version, times: times, inputs: inputs, slotInput: slotInput,
            overlap: overlap, catchupWindow: catchupWindow)
    }

    private mutating func required(
        _ fields: [String: YAMLSource], _ key: String, path: (String) -> String, line: Int?
    ) -> String? {
        guard let source = fields[key] else {
            report(path(key), line, "required")
            return nil
        }
        return string(source, field: path(key))
    }

    /// `cron` (with `time_zone`) or `every` (with `offset`): exactly one of them.
    private mutating func times(_ fields: [String: YAMLSource], path: (String) -> String, line: Int?)
        -> ScheduleTimes?
    {
        switch (fields["cron"], fields["every"]) {
        case (nil, nil):
            report(path("cron"), line, "required: cron (e.g. \"30 2 * * *\") or every (e.g. 15m)")
            return nil
        case (.some, .some):
            report(path("every"), fields["every"]?.line, "give cron or every, not both")
            return nil
        case (let cron?, nil):
            if fields["offset"] != nil { report(path("offset"), fields["offset"]?.line, "offset goes with every") }
            guard let text = string(cron, field: path("cron")) else { return nil }
            let expression: CronExpression
            do {
                expression = try CronExpression(parsing: text)
            } catch {
                report(path("cron"), cron.line, error.description)
                return nil
            }
            var zone = ScheduleTimes.Zone.utc
            if let zoneSource = fields["time_zone"], let name = string(zoneSource, field: path("time_zone")) {
                guard let named = ScheduleTimes.Zone(named: name) else {
                    report(
                        path("time_zone"), zoneSource.line,
                        "\"\(name.prefix(60))\" is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)"
                    )
                    return nil
                }
                zone = named
            }
            let times = ScheduleTimes.cron(expression, zone: zone)
            guard times.next(after: Date()) != nil else {
                report(path("cron"), cron.line, "\"\(text)\" matches no date in the next nine years")
                return nil
            }
            return times
        case (nil, let every?):
            if fields["time_zone"] != nil {
                report(
                    path("time_zone"), fields["time_zone"]?.line, "time_zone goes with cron; every counts absolute time"
                )
            }
            guard let interval = duration(every, field: path("every")) else { return nil }
            guard interval >= ScheduleTimes.shortestInterval, interval <= ScheduleTimes.longestInterval else {
                report(
                    path("every"), every.line,
                    "must be from \(DurationText.format(ScheduleTimes.shortestInterval)) to \(DurationText.format(ScheduleTimes.longestInterval))"
                )
                return nil
            }
            var offset = Duration.zero
            if let source = fields["offset"], let value = duration(source, field: path("offset")) {
                guard value < interval else {
                    report(path("offset"), source.line, "must be shorter than every (\(DurationText.format(interval)))")
                    return nil
                }
                offset = value
            }
            return .every(interval, offset: offset)
        }
    }
}
