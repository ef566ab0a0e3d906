import Foundation
import UAEFCore

/// A connector: a named, tenant-scoped way for events to enter or leave UAEF (a webhook
/// endpoint, an Amazon SQS queue, an Azure Service Bus entity, an SAP S/4HANA OData service, an
/// Oracle Fusion Cloud ERP, a Slack workspace, a Microsoft Teams channel, a Jira Cloud site). Its
/// settings never hold a
/// credential's value: credentials are `{"$secret": NAME}` references to the tenant's sealed
/// secrets, resolved only when a message is sent or checked.
public struct ConnectorDefinition: Sendable, Hashable {
    /// What a connector talks to.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case webhook, sqs, servicebus, sap, oracle, slack, teams, jira
    }

    /// Lower-case letters, digits, `-`, `_` and `.`, at most 64: it appears in URLs
    /// (`/v1/hooks/{name}`) and task parameters.
    public static let namePattern = "[a-z0-9_.-]{1,64}"

    public var name: String
    public var kind: Kind
    /// The type's settings by key, as written (credentials as secret references).
    public var settings: [String: JSONValue]

    public init(name: String, kind: Kind, settings: [String: JSONValue]) {
        self.name = name
        self.kind = kind
        self.settings = settings
    }

    /// Whether `text` is a valid connector name.
    public static func isValidName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    /// The secret names the settings refer to, sorted.
    public var secretNames: [String] { SecretReference.names(in: .object(settings)) }
}

/// What each connector type's settings may hold; one table serves validation and the docs.
struct ConnectorSchema {
    /// How one setting is checked.
    enum Setting {
        /// An absolute `http` or `https` URL.
        case url
        case text
        /// An HTTP header name (RFC 9110 token characters).
        case headerName
        /// `{"$secret": NAME}`: a credential's value is never written into a definition.
        case secret
        /// A list of secret references (e.g. signing secrets during a rotation), one or more.
        case secrets
        case integer(ClosedRange<Int>)
        /// A duration such as `20s`, at most the bound.
        case duration(max: Duration)
        /// One of the listed words.
        case choice([String])
        /// A mapping of header names to text or secret references.
        case headers
        /// What an incoming message starts: `{workflow: NAME, input: NAME}` or `{signal: NAME}`.
        case trigger
        /// The ledger events forwarded: `{events: [TYPE or PATTERN, ...], filter: EXPRESSION}`.
        case subscription
        /// A list of 1 to 20 durations of at most a day: a retry schedule.
        case schedule
        /// A DNS label: 1 to 63 letters, digits and hyphens (a Service Bus namespace).
        case label
        /// A Service Bus entity path: a queue, a topic, or `TOPIC/subscriptions/NAME`.
        case entityPath
        /// Exactly this many decimal digits, as text (an SAP client such as `100`).
        case digits(Int)
        /// How an ERP connector of this type turns posted settlements into invoices.
        case export(ConnectorDefinition.Kind)
        /// Slack user ids mapped to who they are in UAEF: `{U…: {subject, approves_as: [ROLE]}}`.
        case approvers
        /// A Jira project key: a capital letter, then 1 to 9 capitals, digits or `_`.
        case projectKey
    }

    /// What every connector that can send may add: a subscription and its retry schedule.
    static let sending: [String: Setting] = [
        "subscription": .subscription, "retry_schedule": .schedule, "max_concurrency": .integer(1...64),
    ]

    let required: [String: Setting]
    let optional: [String: Setting]

    static func of(_ kind: ConnectorDefinition.Kind) -> ConnectorSchema {
        switch kind {
        case .webhook:
            // Outbound needs `url`; inbound (`POST /v1/hooks/{name}`) needs the signing secrets.
            ConnectorSchema(
                required: ["secrets": .secrets],
                optional: [
                    "url": .url, "signature": .choice(["standard", "github", "hmac-sha256"]),
                    "signature_header": .headerName, "headers": .headers,
                    "timeout": .duration(max: .seconds(60)), "trigger": .trigger,
                ].merging(sending) { first, _ in first })
        case .sqs:
            ConnectorSchema(
                required: ["queue_url": .url, "region": .text],
                optional: [
                    "endpoint": .url, "access_key_id": .secret, "secret_access_key": .secret,
                    "session_token": .secret, "wait_time": .duration(max: .seconds(20)),
                    "visibility_timeout": .duration(max: .seconds(43_200)), "trigger": .trigger,
                ].merging(sending) { first, _ in first })
        case .servicebus:
            ConnectorSchema(
                required: ["namespace": .label, "entity": .entityPath],
                optional: [
                    "endpoint": .url, "sas_key_name": .text, "sas_key": .secret, "token": .secret,
                    "wait_time": .duration(max: .seconds(60)), "lock_renewal": .duration(max: .seconds(300)),
                    "trigger": .trigger,
                ].merging(sending) { first, _ in first })
        case .sap:
            // The service root URL; a communication user (user, password) or a client certificate.
            ConnectorSchema(
                required: ["url": .url],
                optional: [
                    "client": .digits(3), "user": .text, "password": .secret, "client_certificate": .secret,
                    "client_key": .secret, "ca_certificate": .secret, "timeout": .duration(max: .seconds(300)),
                    "export": .export(.sap),
                ].merging(sending) { first, _ in first })
        case .oracle:
            // The pod's base URL (https://NAME.fa.ocs.oraclecloud.com) and an integration user.
            ConnectorSchema(
                required: ["url": .url, "user": .text, "password": .secret],
                optional: ["timeout": .duration(max: .seconds(300)), "api_version": .text, "export": .export(.oracle)]
                    .merging(sending) { first, _ in first })
        case .slack:
            // A bot token posts; the app's signing secret checks the buttons pressed.
            ConnectorSchema(
                required: ["token": .secret],
                optional: [
                    "channel": .text, "signing_secret": .secret, "approvers": .approvers, "team": .text,
                    "api_url": .url, "timeout": .duration(max: .seconds(30)),
                ].merging(sending) { first, _ in first })
        case .teams:
            // A Workflows webhook URL carries its signature in its query: it is a secret.
            ConnectorSchema(
                required: ["webhook_url": .secret],
                optional: ["console_url": .url, "timeout": .duration(max: .seconds(60))]
                    .merging(sending) { first, _ in first })
        case .jira:
            // The site (https://NAME.atlassian.net), an account's email and API token, a project.
            ConnectorSchema(
                required: ["url": .url, "email": .text, "api_token": .secret, "project": .projectKey],
                optional: ["issue_type": .text, "timeout": .duration(max: .seconds(60))]
                    .merging(sending) { first, _ in first })
        }
    }
}

/// Reads connector definitions: a file of `connectors:` (a list), or one connector as a JSON
/// object (`POST /v1/connectors`). Every problem is reported as `file:line: field: message`.
public enum ConnectorParser {
    /// Parses a YAML or JSON document `text` read from `file`.
    public static func parse(_ text: String, file: String) throws(ValidationFailure) -> [ConnectorDefinition] {
        var reader = ConnectorReader(file: file)
        return try reader.document(text, key: "connectors", noun: "connector", name: \.name) {
            reader, source, field in reader.connector(source, field: field)
        }
    }
}

/// One validation pass over connector definitions.
struct ConnectorReader: DefinitionReading {
    let file: String
    var issues: [ValidationIssue] = []

    init(file: String) { self.file = file }

    mutating func connector(_ source: YAMLSource, field: String) -> ConnectorDefinition? {
        let before = issues.count
        guard let entries = source.entries else {
            report(field, source.line, "expected a mapping of keys to values, found \(Self.kind(of: source))")
            return nil
        }
        let typeNames = ConnectorDefinition.Kind.allCases.map(\.rawValue)
        let typeSource = entries.first { $0.key == "type" }?.value
        guard let typeSource else {
            report("\(field).type", source.line, "required: one of \(typeNames.joined(separator: ", "))")
            return nil
        }
        guard let typeText = string(typeSource, field: "\(field).type") else { return nil }
        guard let kind = ConnectorDefinition.Kind(rawValue: typeText) else {
            report(
                "\(field).type", typeSource.line,
                "\"\(typeText.prefix(40))\" is not a connector type; valid: \(typeNames.joined(separator: ", "))")
            return nil
        }
        let schema = ConnectorSchema.of(kind)
        let allowed = Set(["name", "type"]).union(schema.required.keys).union(schema.optional.keys)
        guard let fields = mapping(source, field: field, allowed: allowed) else { return nil }
        let name = string(fields["name"], field: "\(field).name")
        if fields["name"] == nil { report("\(field).name", source.line, "required") }
        if let name, !ConnectorDefinition.isValidName(name) {
            report(
                "\(field).name", fields["name"]?.line,
                "\"\(name.prefix(70))\" is not a connector name; use 1 to 64 of a-z, 0-9, '-', '_' and '.'")
        }
        var settings: [String: JSONValue] = [:]
        for (key, setting) in schema.required.sorted(by: { $0.key < $1.key }) where fields[key] == nil {
            report(
                "\(field).\(key)", source.line,
                "required for a \(kind.rawValue) connector (\(Self.expectation(setting)))")
        }
        for (key, value) in fields where key != "name" && key != "type" {
            let setting = schema.required[key] ?? schema.optional[key]!
            if let checked = check(value, as: setting, field: "\(field).\(key)") { settings[key] = checked }
        }
        if kind == .servicebus, fields["sas_key"] != nil, fields["token"] != nil {
            report(field, source.line, "give sas_key (with sas_key_name) or token, not both")
        }
        if kind == .webhook, fields["subscription"] != nil, fields["url"] == nil {
            report(field, source.line, "a webhook connector with a subscription needs the url to deliver to")
        }
        if kind == .slack, fields["subscription"] != nil, fields["channel"] == nil {
            report(field, source.line, "a slack connector with a subscription needs the channel to post in")
        }
        if kind == .slack, fields["approvers"] != nil, fields["signing_secret"] == nil {
            report(
                field, source.line,
                "a slack connector with approvers needs the app's signing_secret to check who pressed a button")
        }
        if kind == .servicebus, (fields["sas_key"] == nil) != (fields["sas_key_name"] == nil) {
            report(field, source.line, "sas_key and sas_key_name go together")
        }
        if kind == .sap || kind == .oracle, (fields["subscription"] == nil) != (fields["export"] == nil) {
            report(
                field, source.line,
                "an ERP connector's subscription and export go together: the export says how a posted settlement becomes an invoice"
            )
        }
        if kind == .sap {
            let basic = fields["user"] != nil || fields["password"] != nil
            let certificate = fields["client_certificate"] != nil || fields["client_key"] != nil
            if (fields["user"] == nil) != (fields["password"] == nil) {
                report(field, source.line, "user and password go together (the communication user)")
            }
            if (fields["client_certificate"] == nil) != (fields["client_key"] == nil) {
                report(field, source.line, "client_certificate and client_key go together")
            }
            if basic == certificate {
                report(
                    field, source.line,
                    "give user and password (Basic authentication) or client_certificate and client_key (mTLS), one of them"
                )
            }
        }
        guard issues.count == before, let name else { return nil }
        return ConnectorDefinition(name: name, kind: kind, settings: settings)
    }

    /// The setting's value if it is valid, else nil (reported).
    private mutating func check(_ source: YAMLSource, as setting: ConnectorSchema.Setting, field: String)
        -> JSONValue?
    {
        guard let value = json(source, field: field) else { return nil }
        let valid: Bool
        switch setting {
        case .url:
            if let text = value.stringValue, let url = URL(string: text), ["http", "https"].contains(url.scheme),
                url.host?.isEmpty == false, url.user == nil, url.password == nil
            {
                valid = true
            } else {
                valid = false
            }
        case .text: valid = value.stringValue.map { !$0.isEmpty && $0.utf8.count <= 1_024 } ?? false
        case .headerName: valid = value.stringValue.map(Self.isHeaderName) ?? false
        case .secret: valid = SecretReference.name(in: value) != nil
        case .secrets:
            valid = value.arrayValue.map { !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(Self.isSecret) } ?? false
        case .integer(let range): valid = value.numberValue?.intValue.map(range.contains) ?? false
        case .duration(let bound):
            valid = value.stringValue.flatMap(DurationText.parse).map { $0 > .zero && $0 <= bound } ?? false
        case .choice(let words): valid = value.stringValue.map(words.contains) ?? false
        case .export(let kind):
            if case .failure(let problem) = SettlementExport.parse(value, kind: kind) {
                report(field, source.line, problem.description)
                return nil
            }
            valid = true
        case .digits(let count):
            valid =
                value.stringValue.map { $0.utf8.count == count && $0.utf8.allSatisfy { (48...57).contains($0) } }
                ?? false
        case .trigger: valid = Trigger(value) != nil
        case .projectKey: valid = value.stringValue.map(JiraIssue.isProjectKey) ?? false
        case .approvers:
            guard let entries = value.objectValue, (1...1_000).contains(entries.count) else {
                valid = false
                break
            }
            let before = issues.count
            for (user, entry) in entries.sorted(by: { $0.key < $1.key }) {
                if !SlackApprover.isUserID(user) {
                    report(
                        "\(field).\(user.prefix(40))", source.line,
                        "not a Slack user id; expected U or W and 2 to 31 capitals and digits, such as U0123ABCD")
                } else if !SlackApprover.isEntry(entry) {
                    report(
                        "\(field).\(user)", source.line,
                        "expected {subject: TEXT, approves_as: [ROLE, ...]}: a subject of 1 to 256 characters, 1 to 16 roles of 1 to 64"
                    )
                }
            }
            guard issues.count == before else { return nil }
            valid = true
        case .label:
            valid =
                value.stringValue.map { text in
                    (1...63).contains(text.utf8.count) && !text.hasPrefix("-")
                        && text.unicodeScalars.allSatisfy {
                            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-")
                        }
                } ?? false
        case .entityPath:
            valid =
                value.stringValue.map { text in
                    (1...260).contains(text.utf8.count)
                        && text.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { segment in
                            !segment.isEmpty && segment != "." && segment != ".."
                                && segment.unicodeScalars.allSatisfy {
                                    $0.isASCII
                                        && (CharacterSet.alphanumerics.contains($0)
                                            || "-_.~$".unicodeScalars.contains($0))
                                }
                        }
                } ?? false
        case .subscription:
            if case .failure(let problem) = Subscription.parse(value) {
                report(field, source.line, problem.description)
                return nil
            }
            valid = true
        case .schedule:
            valid =
                value.arrayValue.map { list in
                    (1...20).contains(list.count)
                        && list.allSatisfy { element in
                            element.stringValue.flatMap(DurationText.parse).map { $0 > .zero && $0 <= .seconds(86_400) }
                                ?? false
                        }
                } ?? false
        case .headers:
            valid =
                value.objectValue.map { headers in
                    headers.count <= 32
                        && headers.allSatisfy { name, value in
                            Self.isHeaderName(name)
                                && (Self.isSecret(value) || value.stringValue.map(Self.isHeaderValue) == true)
                        }
                } ?? false
        }
        guard valid else {
            switch setting {
            case .secret, .secrets:
                // What was written may be the credential itself: it is not repeated.
                report(field, source.line, "expected \(Self.expectation(setting))")
            default:
                report(
                    field, source.line,
                    "\(Self.describe(source)) is not valid here; expected \(Self.expectation(setting))"
                )
            }
            return nil
        }
        return value
    }

    private static func isSecret(_ value: JSONValue) -> Bool { SecretReference.name(in: value) != nil }

    /// 1 to 128 RFC 9110 token characters.
    private static func isHeaderName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count)
            && name.utf8.allSatisfy { (0x21...0x7E).contains($0) && !"\"(),/:;<=>?@[\\]{}".utf8.contains($0) }
    }

    /// Visible characters, spaces and tabs: no CR, LF or other controls.
    private static func isHeaderValue(_ text: String) -> Bool {
        text.utf8.count <= 4_096
            && text.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }

    static func expectation(_ setting: ConnectorSchema.Setting) -> String {
        switch setting {
        case .url: "an http or https URL without credentials in it"
        case .text: "a non-empty string of at most 1024 bytes"
        case .headerName: "an HTTP header name (1 to 128 letters, digits and !#$%&'*+-.^_`|~)"
        case .secret: "a secret reference {\"$secret\": NAME}, never the value itself"
        case .secrets: "a list of 1 to 4 secret references [{\"$secret\": NAME}] (several while rotating)"
        case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .duration(let bound): "a duration such as 20s, at most \(DurationText.format(bound))"
        case .choice(let words): "one of \(words.joined(separator: ", "))"
        case .digits(let count): "\(count) digits as text, such as \"\(String(repeating: "1", count: count))\""
        case .export:
            "{accounts: {UAEF_ACCOUNT: {supplier} or {account, cost_center, tax_code}}, …}, or for Oracle journals {as: journal, ledger_id, source, category, accounts: {UAEF_ACCOUNT: {account}}}"
        case .headers:
            "a mapping of at most 32 header names to values (text without line breaks, or secret references)"
        case .trigger:
            "{workflow: NAME} (optionally with input: NAME, default message) or {signal: NAME}, names of 1 to 128 of a-z A-Z 0-9 _ . -"
        case .subscription: "{events: [TYPE, ...], filter: EXPRESSION}"
        case .projectKey: "a Jira project key: a capital letter, then 1 to 9 capitals, digits or _ (such as OPS)"
        case .approvers:
            "a mapping of 1 to 1000 Slack user ids (U or W and capitals and digits) to {subject: TEXT, approves_as: [ROLE, ...]}"
        case .schedule: "a list of 1 to 20 durations of at most 24h, such as [5s, 5m, 30m]"
        case .label: "a namespace name: 1 to 63 letters, digits and hyphens"
        case .entityPath:
            "a queue or topic name, or TOPIC/subscriptions/NAME: letters, digits and - _ . ~ $ in segments separated by /"
        }
    }
}

/// What a message arriving at a webhook connector (`POST /v1/hooks/{tenant}/{connector}`)
/// starts: a run of `workflow` with the message's data as its input `input`, or the signal
/// `signal` with the message's data.
public enum Trigger: Sendable, Hashable {
    case run(workflow: String, input: String)
    case signal(String)

    /// The trigger a connector's `trigger` setting describes, or nil when it is not one.
    public init?(_ value: JSONValue) {
        guard let members = value.objectValue else { return nil }
        func name(_ key: String) -> String? {
            guard let text = members[key]?.stringValue, (1...128).contains(text.utf8.count),
                text.utf8.allSatisfy({ byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                        || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || [UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-")].contains(byte)
                })
            else { return nil }
            return text
        }
        if let workflow = name("workflow"), Set(members.keys).isSubset(of: ["workflow", "input"]) {
            guard members["input"] == nil || name("input") != nil else { return nil }
            self = .run(workflow: workflow, input: name("input") ?? "message")
        } else if let signal = name("signal"), members.count == 1 {
            self = .signal(signal)
        } else {
            return nil
        }
    }
}
