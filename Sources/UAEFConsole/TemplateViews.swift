import UAEFCore

/// What the templates page shows: each workflow template with its description and parameters,
/// and to those who may register workflows a form that makes a workflow from it.
public struct TemplatesView: Sendable {
    /// One parameter's form field.
    public struct Field: Sendable {
        public var name: String
        /// The input's id: the template's name and the parameter's.
        public var inputID: String
        public var description: String
        /// `integer 1 to 5`, `string matching …`: what the value must be.
        public var rule: String
        /// The default as the field shows it: text as it is, other values as JSON.
        public var value: String
        public var required: Bool
    }

    /// One template.
    public struct Entry: Sendable {
        public var name: String
        public var version: Int
        public var title: String
        public var category: String?
        public var description: String
        public var fields: [Field]
        public var mayRegister: Bool
        public var csrf: String
        /// True for the template the notice is about, whose form opens again.
        public var open: Bool
    }

    public var templates: [Entry]
    public var notice: String?
    public var noticeIsError: Bool

    /// The view of `templates` (as the API lists them); `mayRegister` offers the forms; `notice`
    /// (about the template `subject`) tells what the last form did.
    public init(
        templates: [JSONValue], mayRegister: Bool, csrf: String, notice: String? = nil, noticeIsError: Bool = false,
        subject: String? = nil
    ) {
        self.templates = templates.map { template in
            let name = template["name"]?.stringValue ?? ""
            return Entry(
                name: name, version: template["version"]?.numberValue?.intValue ?? 1,
                title: template["title"]?.stringValue ?? name, category: template["category"]?.stringValue,
                description: template["description"]?.stringValue ?? "",
                fields: (template["parameters"]?.arrayValue ?? []).map { Self.field($0, template: name) },
                mayRegister: mayRegister,
                csrf: csrf, open: name == subject)
        }
        self.notice = notice
        self.noticeIsError = noticeIsError
    }

    private static func field(_ parameter: JSONValue, template: String) -> Field {
        let value: String =
            switch parameter["default"] {
            case .string(let text)?: text
            case let other?: other.jsonText
            case nil: ""
            }
        let name = parameter["name"]?.stringValue ?? ""
        return Field(
            name: name, inputID: "\(template)-\(name)", description: parameter["description"]?.stringValue ?? "",
            rule: JSONSchema(parameter["schema"] ?? [:]).summary, value: value, required: parameter["required"] == true)
    }
}
