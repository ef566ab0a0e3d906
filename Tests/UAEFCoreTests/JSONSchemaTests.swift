import Foundation
import Testing
import UAEFCore

@Suite("JSON Schema checks of model answers and tool arguments")
struct JSONSchemaTests {
    static let invoice = JSONSchema([
        "type": "object",
        "properties": [
            "category": ["type": "string", "enum": ["invoice", "receipt"]],
            "number": ["type": "string", "pattern": "^INV-[0-9]+$", "maxLength": 20],
            "lines": ["type": "array", "items": ["type": "integer", "minimum": 1], "maxItems": 3],
        ],
        "required": ["category"], "additionalProperties": false,
    ])

    @Test("each violation names its place and what was expected; a valid value has none")
    func violations() {
        #expect(Self.invoice.violations(of: ["category": "invoice", "number": "INV-7", "lines": [1, 2]]) == [])
        let found = Self.invoice.violations(of: ["number": "X-1", "lines": [0, 1, 2, 3], "extra": true])
        #expect(found.contains("$: category is required"))
        #expect(found.contains("$.number: expected text matching ^INV-[0-9]+$"))
        #expect(found.contains("$.lines: expected at most 3 items, got 4"), "\(found)")
        #expect(found.contains("$.lines[0]: expected at least 1"), "\(found)")
        #expect(found.contains { $0.hasPrefix("$.extra: not allowed") }, "\(found)")
    }

    @Test("a pattern that backtracks exponentially is abandoned in bounded time and reported, for all strings together")
    func catastrophicPatterns() {
        let schema = JSONSchema(["type": "array", "items": ["type": "string", "pattern": "^(a+)+b$"]])
        let evil = JSONValue.string(String(repeating: "a", count: 40))
        let start = ContinuousClock.now
        let found = schema.violations(of: .array(Array(repeating: evil, count: 50)), limit: 100)
        #expect(ContinuousClock.now - start < .seconds(3), "the patterns' time is bounded for the whole check")
        #expect(found.count == 50)
        #expect(found.allSatisfy { $0.contains("could not be checked against ^(a+)+b$ in time") }, "\(found.prefix(2))")
        // An ordinary text still matches quickly.
        #expect(schema.violations(of: ["aaab"]) == [])
    }

    @Test("a pattern that is not a regular expression, or is too long, is a violation rather than ignored")
    func badPatterns() {
        let broken = JSONSchema(["type": "string", "pattern": "(unclosed"])
        #expect(broken.violations(of: "x").first?.contains("not a regular expression") == true)
        let long = JSONSchema(["type": "string", "pattern": .string(String(repeating: "a", count: 1001))])
        #expect(long.violations(of: "a").first?.contains("at most 1000 characters") == true)
    }

    @Test("a pattern's $ matches only at the end of the text, as in ECMA-262, not before a final line break")
    func dollarEndsTheText() {
        let role = JSONSchema(["type": "string", "pattern": "^[a-z]+$"])
        #expect(role.violations(of: "finance").isEmpty)
        for text in ["finance\n", "finance\r\n", "finance\u{2028}"] {
            #expect(!role.violations(of: .string(text)).isEmpty, "\(text.debugDescription)")
        }
        #expect(JSONSchema(["pattern": "^[$]\\$$"]).violations(of: "$$").isEmpty, "$ in a class or escaped is a dollar")
        #expect(!JSONSchema(["pattern": "^[$]\\$$"]).violations(of: "$$\n").isEmpty)
    }
}
