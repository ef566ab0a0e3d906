import Mustache

/// Renders the console's pages from the templates embedded in the binary
/// (`Sources/UAEFConsole/Assets`, embedded by `scripts/embed-console`).
public struct ConsoleRenderer: Sendable {
    /// A section of the console in its navigation bar.
    public struct Section: Sendable {
        public var path: String
        public var label: String
        public var current: Bool
    }

    /// What every page shows around its body: who is signed in and where they are.
    public struct Frame: Sendable {
        public var title: String
        public var signedIn: Bool
        public var subject: String
        public var tenant: String
        public var roles: String
        public var csrf: String
        /// The page's path, which marks its section as current.
        public var path: String
        /// The event stream whose events re-render the page's live region, or nil.
        public var live: String?
        /// Sections left out of the navigation: those the principal may not open.
        public var hiddenSections: Set<String>

        public init(
            title: String, signedIn: Bool, subject: String = "", tenant: String = "", roles: String = "",
            csrf: String = "", path: String, live: String? = nil, hiddenSections: Set<String> = []
        ) {
            self.hiddenSections = hiddenSections
            self.title = title
            self.signedIn = signedIn
            self.subject = subject
            self.tenant = tenant
            self.roles = roles
            self.csrf = csrf
            self.path = path
            self.live = live
        }
    }

    /// The sections of the navigation bar, by path.
    static let sections: [(path: String, label: String)] = [
        ("/runs", "Runs"), ("/approvals", "Approvals"), ("/agents", "Agents"), ("/schedules", "Schedules"),
        ("/templates", "Templates"), ("/settlements", "Money"),
        ("/analytics", "Analytics"), ("/ledger", "Ledger"),
    ]

    private let library: MustacheLibrary

    /// The console's stylesheet (`/console/console.css`).
    public static var stylesheet: String { ConsoleAssets.stylesheet }
    /// The console's script (`/console/console.js`).
    public static var script: String { ConsoleAssets.script }

    public init() {
        var library = MustacheLibrary()
        for (name, text) in ConsoleAssets.templates {
            do {
                try library.register(text, named: name)
            } catch {
                // The templates are part of the binary and every one is rendered by the tests.
                preconditionFailure("console template \(name) does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// `template` rendered with `view`, HTML-escaped except where the template says otherwise.
    public func render(_ template: String, _ view: Any) -> String {
        guard let text = library.render(Self.fields(of: view), withTemplate: template) else {
            preconditionFailure("no console template \(template)")
        }
        return text
    }

    /// A view struct's stored properties by name, read with one reflection: the template then
    /// looks names up in a dictionary instead of reflecting the whole view for each of them (row
    /// templates that reach a page-wide value would otherwise reflect the view once per row).
    static func fields(of view: Any) -> Any {
        let mirror = Mirror(reflecting: view)
        guard mirror.displayStyle == .struct else { return view }
        var fields: [String: Any] = [:]
        for child in mirror.children {
            guard let label = child.label else { continue }
            // An optional is stored unwrapped, and a nil one left out, as the template expects.
            let value = Mirror(reflecting: child.value)
            if value.displayStyle == .optional {
                if let wrapped = value.children.first { fields[label] = wrapped.value }
            } else {
                fields[label] = child.value
            }
        }
        return fields
    }

    /// A whole page: `body` inside the layout.
    public func page(_ frame: Frame, body: String) -> String {
        render("layout", Layout(frame: frame, body: body))
    }

    private struct Layout {
        var title: String
        var signedIn: Bool
        var subject: String
        var tenant: String
        var roles: String
        var csrf: String
        var live: String?
        var nav: [Section]
        var body: String

        init(frame: Frame, body: String) {
            title = frame.title
            signedIn = frame.signedIn
            subject = frame.subject
            tenant = frame.tenant
            roles = frame.roles
            csrf = frame.csrf
            live = frame.live
            nav = ConsoleRenderer.sections.filter { !frame.hiddenSections.contains($0.path) }.map {
                Section(path: $0.path, label: $0.label, current: frame.path.hasPrefix($0.path))
            }
            self.body = body
        }
    }
}
