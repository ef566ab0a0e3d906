import Foundation
import UAEFCore

/// The templates a process offers: the built-in business processes (`templates/` in the source
/// tree, embedded in the binary) and those in a directory the operator names.
public struct TemplateCatalog: Sendable {
    /// Every template, by name.
    public let templates: [WorkflowTemplate]

    /// The templates built into this binary. They are checked by the test suite, so reading them cannot fail.
    public static let builtIn: TemplateCatalog = {
        let templates = BuiltInTemplates.files.map { file in
            do {
                return try TemplateReader.read(file.text, file: "built-in \(file.name)")
            } catch {
                preconditionFailure("built-in template \(file.name) does not read: \(error)")
            }
        }
        return TemplateCatalog(templates: templates.sorted { $0.name < $1.name })
    }()

    private init(templates: [WorkflowTemplate]) { self.templates = templates }

    /// The built-in templates and, with `directory`, every `.yaml`, `.yml` and `.json` file in it
    /// (not its subdirectories). Every problem in every file is reported together; a file may not
    /// reuse a name another template has.
    public static func load(directory: String?) throws(ValidationFailure) -> TemplateCatalog {
        guard let directory else { return builtIn }
        var issues: [ValidationIssue] = []
        var templates = builtIn.templates
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ValidationFailure(issues: [
                ValidationIssue(
                    file: directory, line: nil, field: "",
                    message: "cannot list the templates directory: \(error.localizedDescription)")
            ])
        }
        let extensions: Set<String> = ["yaml", "yml", "json"]
        for name in names.sorted() where extensions.contains((name as NSString).pathExtension.lowercased()) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else {
                issues.append(
                    ValidationIssue(file: path, line: nil, field: "", message: "cannot read the file as UTF-8 text"))
                continue
            }
            do {
                let template = try TemplateReader.read(text, file: path)
                if let earlier = templates.first(where: { $0.name == template.name }) {
                    issues.append(
                        ValidationIssue(
                            file: path, line: nil, field: "template",
                            message:
                                "'\(template.name)' is already the name of \(earlier.origin); give this template another name"
                        ))
                } else {
                    templates.append(template)
                }
            } catch {
                issues += error.issues
            }
        }
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }
        return TemplateCatalog(templates: templates.sorted { $0.name < $1.name })
    }

    /// The template named `name`.
    public func template(named name: String) -> WorkflowTemplate? {
        templates.first { $0.name == name }
    }

    /// Why `name` names no template, listing those that exist.
    public func unknown(_ name: String) -> String {
        "no template named '\(name.prefix(80))'; templates here: \(templates.map(\.name).joined(separator: ", "))"
    }
}
