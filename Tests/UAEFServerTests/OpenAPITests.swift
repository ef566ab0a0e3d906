import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

@testable import UAEFServer

@Suite("HTTP API: the OpenAPI document matches the routes")
struct OpenAPITests {
    @Test("every registered route is documented, and every documented operation reaches a handler")
    func documentMatchesRoutes() async throws {
        try await ServerHarness.start().serving { server in
            let reply = try await server.send(.GET, "/openapi.json")
            #expect(reply["openapi"] == "3.1.0")
            // The server serves docs/openapi.json as it is (scripts/embed-openapi after editing it).
            let document = try String(
                contentsOf: Fixtures.packageRoot.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
            #expect(reply.body + "\n" == document, "run scripts/embed-openapi")
            let paths = try #require(reply["paths"]?.objectValue)
            var documented: Set<String> = []
            for (path, operations) in paths {
                for method in operations.objectValue?.keys ?? [:].keys {
                    documented.insert("\(method.uppercased()) \(path)")
                }
            }

            let changes = LedgerChanges()
            let router = APIServer.makeRouter(
                server.configuration, runtime: server.runtime, executor: RunExecutor(ledgerChanges: changes),
                ledgerChanges: changes)
            // The console's pages are HTML for browsers, not API operations (docs/console.md).
            let registered = Set(
                router.routes.filter { !ConsoleRoutes.isPage($0.path.description) }.map { route in
                    let path = route.path.description.split(separator: "/").map { part in
                        part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                    }
                    return "\(route.method.rawValue) /" + path.joined(separator: "/")
                })
            #expect(registered.subtracting(documented).isEmpty, "routes missing from the document")
            #expect(documented.subtracting(registered).isEmpty, "documented operations the server lacks")

            let admin = try await server.token("acme", [.admin])
            for operation in documented.sorted() {
                let parts = operation.split(separator: " ", maxSplits: 1)
                let path = parts[1].split(separator: "/").map { $0.hasPrefix("{") ? "x" : String($0) }.joined(
                    separator: "/")
                var request = HTTPClientRequest(url: server.base + "/" + path)
                request.method = HTTPMethod(rawValue: String(parts[0]))
                request.headers.add(name: "Authorization", value: "Bearer \(admin)")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let status = response.status.code
                if response.headers["Content-Type"].first == "text/event-stream" {
                    #expect(status == 200, "\(operation)")
                    continue
                }
                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(status != 405, "\(operation)")
                #expect(!body.contains("no route matches"), "\(operation): \(body)")
            }
        }
    }
}
