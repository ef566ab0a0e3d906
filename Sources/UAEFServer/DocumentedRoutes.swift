import HTTPTypes
import UAEFCore

/// The operations the OpenAPI document declares, by path template, so that a request for a
/// documented path with a method it lacks is answered 405 with `Allow` (RFC 9110 §15.5.6)
/// instead of 404.
struct DocumentedRoutes: Sendable {
    /// One path template split into segments (`{id}` matches any one segment), with its methods.
    private let routes: [(segments: [String], methods: [String])]

    /// The routes of the embedded OpenAPI document.
    static let api = DocumentedRoutes(openAPI: OpenAPISpec.text)

    init(openAPI text: String) {
        let paths = (try? JSONValue(jsonText: text))?["paths"]?.objectValue ?? [:]
        routes = paths.map { path, operations in
            let methods = (operations.objectValue ?? [:]).keys.map { $0.uppercased() }.sorted()
            return (path.split(separator: "/").map(String.init), methods)
        }
    }

    /// The methods documented for `path` (without its query), empty when no template matches.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return
            routes.first { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { template, segment in
                        template.hasPrefix("{") || template == segment
                    }
            }?.methods ?? []
    }
}
