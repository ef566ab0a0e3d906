import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef rules and uaef settle (real processes)")
struct SettlementCLITests {
    static let example = Fixtures.packageRoot.appendingPathComponent("examples/invoice-settlement.yaml").path
    static let event = Fixtures.packageRoot.appendingPathComponent("examples/settlement-event.json").path

    @Test("rules validate accepts the example and names every problem of a bad file with exit 2")
    func validate() throws {
        let directory = try TemporaryDirectory("rules")
        defer { directory.remove() }
        let good = try UAEFProcess.run(["rules", "validate", Self.example, "--json"], in: directory.url)
        #expect(good.status == 0)
        #expect(try good.json()["rules"] == ["pay-extraction", "platform-fee", "book-vendor-invoice"])
        let bad = directory.path("bad.yaml")
        try """
        accounts: [{id: a, type: asset, currency: EUR}]
        rules:
          - {id: r, on: run.succeeded, amount: {fixed: 1}, currency: EUR, from: a, to: b, rounding: nearest}
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try UAEFProcess.run(["rules", "validate", bad], in: directory.url)
        #expect(result.status == 2)
        #expect(result.stderr.contains(#"bad.yaml:3: rules[0].rounding: "nearest" is not a rounding mode"#))
        let json = try UAEFProcess.run(["rules", "validate", bad, "--json"], in: directory.url)
        #expect(json.status == 2)
        #expect(try json.json()["valid"] == false)
    }

    @Test("settle simulate shows each rule's amount, rounding, postings and approval, and stores nothing")
    func simulate() throws {
        let directory = try TemporaryDirectory("simulate")
        defer { directory.remove() }
        let result = try UAEFProcess.run(
            ["settle", "simulate", "--rules", Self.example, "--event", Self.event, "--json"], in: directory.url)
        #expect(result.status == 0, "\(result.stderr)")
        let rules = try #require(try result.json().arrayValue)
        #expect(rules[0] == ["rule": "pay-extraction", "matched": false])
        #expect(rules[1]["amount"] == "31.25" && rules[1]["exact"] == "31.2475")
        #expect(rules[1]["rounding"] == ["mode": "half_up", "adjustment": "0.0025"])
        #expect(rules[2]["needs_approval"] == true && rules[2]["amount"] == "1249.90")
        #expect(
            rules[2]["postings"] == [["debit": "expense:purchases", "credit": "payable:vendors", "amount": "1249.90"]])
        let missing = try UAEFProcess.run(
            ["settle", "simulate", "--rules", Self.example, "--event", directory.path("none.json")], in: directory.url)
        #expect(missing.status == 2 && missing.stderr.contains("cannot read"))
        // No store was opened or created (the folder holds only the captured output).
        #expect(
            try !FileManager.default.contentsOfDirectory(atPath: directory.url.path).contains { $0.hasSuffix(".db") })
    }
}
