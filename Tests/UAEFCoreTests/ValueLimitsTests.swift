import Foundation
import Testing
import UAEFCore

@Suite("Limits at the door: depth, size, alias expansion, exact numbers, secret placeholders")
struct ValueLimitsTests {
    static func nested(_ depth: Int) -> JSONValue {
        (0..<depth).reduce(JSONValue.number(Number(1))) { inner, _ in .array([inner]) }
    }

    @Test("values nest at most 64 levels and hold at most 16 MiB as JSON")
    func depthAndSize() {
        #expect(ValueLimits.check(Self.nested(64)) == nil)
        #expect(ValueLimits.check(Self.nested(65))?.description.contains("deeper than 64") == true)
        let big = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 1 << 20)), count: 17))
        #expect(ValueLimits.check(big)?.description.contains("16 MiB") == true)
        // Small integers count by their digits, so a long list of them is not overcounted.
        #expect(ValueLimits.check(.array(Array(repeating: .number(Number(7)), count: 3_000_000))) == nil)
    }

    @Test("every value the store reads back is within what it accepts: 64 levels of value inside an event still parse")
    func acceptedValuesReadBack() throws {
        let event: JSONValue = ["payloads": ["input": ["x": Self.nested(63)]]]
        #expect(try JSONValue(jsonText: event.jsonText) == event)
    }

    @Test("YAML nested past 64 levels, or aliases expanding past a million values, are refused with the line")
    func yamlLimits() {
        let deep = "x: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        guard case .failure(let issue) = YAMLSource.parse(deep, file: "w.yaml") else {
            Issue.record("accepted")
            return
        }
        #expect(issue.message.contains("deeper than 64"))
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            bomb +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        let started = ContinuousClock.now
        guard case .failure(let expansion) = YAMLSource.parse(bomb, file: "bomb.yaml") else {
            Issue.record("accepted")
            return
        }
        #expect(expansion.message.contains("through aliases"))
        #expect(ContinuousClock.now - started < .seconds(1))
        // Ordinary aliases still work.
        #expect((try? YAMLSource.parse("a: &d {x: 1}\nb: *d\n", file: "ok.yaml").get()) != nil)
    }

    @Test("numbers with more than 38 significant digits, or out of a decimal's range, are refused rather than rounded")
    func exactNumbers() {
        #expect(Number(parsing: "123456789012345678901234567890123456789012345") == nil)
        #expect(Number(parsing: "12345678901234567890123456789012345678") != nil)
        #expect(Number(parsing: "1000000000000000000000000000000000000000000000")?.description.count == 46)
        #expect(Number(parsing: "0.000000000000000000000000000000000000000000001") != nil)
        #expect(Number(parsing: "1e-999") == nil)
        #expect(Number(parsing: "1e999") == nil)
        #expect(throws: JSONTextError.self) {
            try JSONValue(jsonText: "[123456789012345678901234567890123456789012345]")
        }
    }

    @Test("a template may not render a secret placeholder that came from data; the workflow's own text may hold one")
    func secretPlaceholders() throws {
        let context: [String: JSONValue] = ["inputs": ["p": ["$secret": "pw"], "q": ["a": [["$secret": "pw"]]]]]
        for source in ["${{ inputs.p }}", "${{ inputs.q }}"] {
            let template = try ValueTemplate(compiling: ["v": .string(source)], path: "with")
            #expect(throws: ExpressionError.self) { try template.render(in: context) }
        }
        let authored = try ValueTemplate(compiling: ["v": ["$secret": "pw"], "w": "${{ inputs.p.x }}"], path: "with")
        #expect(try authored.render(in: context)["v"] == ["$secret": "pw"])
        // Rendered inside text it is only text.
        let text = try ValueTemplate(compiling: ["v": "id ${{ inputs.p }}"], path: "with")
        #expect(try text.render(in: context)["v"] == #"id {"$secret":"pw"}"#)
    }
}
