import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef connectors")
struct ConnectorsCLITests {
    @Test(
        "apply reports every problem as file:line and saves nothing; a valid file is saved, listed, shown and removed")
    func applyListShowRemove() throws {
        let directory = try TemporaryDirectory("connectors-cli")
        defer { directory.remove() }
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        try """
        connectors:
          - name: erp-events
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}]
          - name: broken
            type: sqs
            queue_url: not a url
        """.write(toFile: directory.path("bad.yaml"), atomically: true, encoding: .utf8)
        let refused = try UAEFProcess.run(["connectors", "apply", "bad.yaml"] + store, in: directory.url)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("bad.yaml:8: connectors[1].queue_url:"), "\(refused.stderr)")
        #expect(refused.stderr.contains("connectors[1].region: required"), "\(refused.stderr)")
        #expect(try UAEFProcess.run(["connectors", "list", "--json"] + store, in: directory.url).json() == [])

        try """
        connectors:
          - name: erp-events
            type: webhook
            url: https://hooks.example.com/uaef
            secrets: [{$secret: erp-hook}]
        """.write(toFile: directory.path("good.yaml"), atomically: true, encoding: .utf8)
        let applied = try UAEFProcess.run(["connectors", "apply", "good.yaml"] + store, in: directory.url)
        #expect(applied.status == 0 && applied.stdout.contains("saved erp-events (webhook)"), "\(applied.stderr)")
        #expect(applied.stderr.contains("secrets not set yet in tenant default: erp-hook"))
        let listed = try UAEFProcess.run(["connectors", "list", "--json"] + store, in: directory.url).json()
        #expect(
            listed.arrayValue?.first?["name"] == "erp-events" && listed.arrayValue?.first?["secrets"] == ["erp-hook"])
        let shown = try UAEFProcess.run(["connectors", "show", "erp-events"] + store, in: directory.url).json()
        #expect(shown["settings"]?["url"] == "https://hooks.example.com/uaef")
        #expect(try UAEFProcess.run(["connectors", "remove", "erp-events"] + store, in: directory.url).status == 0)
        let missing = try UAEFProcess.run(["connectors", "show", "erp-events"] + store, in: directory.url)
        #expect(missing.status == 2 && missing.stderr.contains("no connector erp-events in tenant default"))
    }
}
