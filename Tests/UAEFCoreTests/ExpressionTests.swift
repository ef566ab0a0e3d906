import Foundation
import Testing
import UAEFCore

@Suite("Expression language")
struct ExpressionTests {
    let context: [String: JSONValue] = [
        "inputs": ["amount": .number(Number(parsing: "1250.50")!), "vendor": "ACME", "lines": [1, 2, 3]],
        "tasks": ["extract": ["output": ["total": 42, "currency": "EUR"]]],
        "run": ["id": "run_1", "name": "invoice"],
    ]

    func eval(_ text: String) throws -> JSONValue {
        try Expression(parsing: text).evaluate(in: context)
    }

    @Test("decimal arithmetic is exact: 0.1 + 0.2 == 0.3")
    func exactDecimals() throws {
        #expect(try eval("0.1 + 0.2 == 0.3") == true)
        #expect(try eval("0.1 + 0.2") == .number(Number(parsing: "0.3")!))
        #expect(try eval("10 / 4") == .number(Number(parsing: "2.5")!))
        #expect(try eval("7 % 3") == 1)
        #expect(try eval("-7 % 3") == .number(Number(-1)))
    }

    @Test(
        "operators, precedence and functions",
        arguments: [
            ("1 + 2 * 3", JSONValue.number(Number(7))),
            ("(1 + 2) * 3", .number(Number(9))),
            ("inputs.amount > 1000 && inputs.vendor == 'ACME'", .bool(true)),
            ("!(1 < 2) || false", .bool(false)),
            ("tasks.extract.output.total", .number(Number(42))),
            ("tasks['extract'].output['currency']", .string("EUR")),
            ("inputs.lines[-1]", .number(Number(3))),
            ("inputs.lines[10]", .null),
            ("inputs.missing.deeper", .null),
            ("len(inputs.lines) + len('abc')", .number(Number(6))),
            ("min(3, 1, 2) + max(inputs.lines)", .number(Number(4))),
            ("round(2.345, 2)", .number(Number(parsing: "2.35")!)),
            ("round(2.5)", .number(Number(3))),
            ("abs(-4.5)", .number(Number(parsing: "4.5")!)),
            ("contains(inputs.lines, 2) && contains('invoice', 'voice')", .bool(true)),
            ("starts_with(run.id, 'run_')", .bool(true)),
            ("lower('AbC') + upper('x')", .string("abcX")),
            ("[1, 'a', null] == [1, 'a', null]", .bool(true)),
            ("'a' < 'b'", .bool(true)),
        ])
    func evaluates(text: String, expected: JSONValue) throws {
        #expect(try eval(text) == expected)
    }

    @Test(
        "errors name the problem",
        arguments: [
            ("1 +", "expected a value"),
            ("foo(1)", "unknown function 'foo'"),
            ("nope.x", "unknown name 'nope'"),
            ("1 / 0", "division by zero"),
            ("'a' + 1", "cannot apply + to a string and a number"),
            ("1 < 2 < 3", "comparisons do not chain"),
            ("len(1)", "len does not accept a number"),
            ("'open", "string is not closed"),
            ("1 # 2", "unexpected character '#'"),
            ("round(1, 'x')", "round's second argument"),
        ])
    func reportsErrors(text: String, fragment: String) {
        do {
            _ = try eval(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }

    @Test("nesting is bounded, so deep input is refused instead of exhausting the stack")
    func boundedDepth() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(throws: ExpressionError.self) { try Expression(parsing: deep) }
        let longChain = Array(repeating: "1", count: 4000).joined(separator: "+")
        #expect(throws: ExpressionError.self) { try Expression(parsing: longChain) }
        let memberChain = "inputs" + String(repeating: ".a", count: 3000)
        #expect(throws: ExpressionError.self) { try Expression(parsing: memberChain) }
    }

    @Test("number range is checked instead of losing digits")
    func overflow() {
        #expect(throws: ExpressionError.self) {
            try eval("99999999999999999999999999999999999999 * 99999999999999999999999999999999999999")
        }
    }

    @Test("referenced paths are found statically")
    func referencedPaths() throws {
        let expression = try Expression(parsing: "tasks.a.output.total + len(tasks['b'].output) + inputs.x[0]")
        #expect(
            expression.referencedPaths.sorted { $0.joined() < $1.joined() } == [
                ["inputs", "x"], ["tasks", "a", "output", "total"], ["tasks", "b", "output"],
            ])
    }

    @Test("fuzz: random token soup never crashes the parser or the evaluator")
    func fuzz() {
        var generator = SplitMix64(seed: 0x5EED)
        let pieces = [
            "1", "0.5", "-", "+", "*", "/", "%", "(", ")", "[", "]", ".", ",", "!", "&&", "||", "==", "<", ">=",
            "'s'", "\"t\"", "inputs", "tasks", "extract", "output", "len", "min", "round", "contains", "null", "true",
            " ", "${{", "}}", "\\", "'", "99999999999999999999", "lines", "[0]", "amount",
        ]
        for _ in 0..<20_000 {
            let count = Int.random(in: 1...24, using: &generator)
            let text = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
            if let expression = try? Expression(parsing: text) { _ = try? expression.evaluate(in: context) }
            _ = try? Template(parsing: text).render(in: context)
        }
        for _ in 0..<5_000 {
            let count = Int.random(in: 0...40, using: &generator)
            let text = String(
                (0..<count).map { _ in Character(UnicodeScalar(UInt8.random(in: 32...126, using: &generator))) })
            if let expression = try? Expression(parsing: text) { _ = try? expression.evaluate(in: context) }
        }
    }
}

@Suite("Templates")
struct TemplateTests {
    let context: [String: JSONValue] = ["inputs": ["n": 3, "items": ["a", "b"]], "item": "x", "index": 0]

    @Test("a lone template keeps its type; embedded templates become text")
    func typing() throws {
        #expect(try Template(parsing: "${{ inputs.n }}").render(in: context) == 3)
        #expect(try Template(parsing: "  ${{ inputs.items }} ").render(in: context) == ["a", "b"])
        #expect(
            try Template(parsing: "n=${{ inputs.n }} items=${{ inputs.items }}").render(in: context)
                == "n=3 items=[\"a\",\"b\"]")
        #expect(try Template(parsing: "${{ item }}-${{ index }}").render(in: context) == "x-0")
        #expect(try Template(parsing: "${{ '}}' }}").render(in: context) == "}}")
    }

    @Test("an unclosed template is an error with its offset")
    func unclosed() {
        #expect(throws: ExpressionError.self) { try Template(parsing: "abc ${{ inputs.n ") }
    }

    @Test("value templates render nested structures")
    func nested() throws {
        let value: JSONValue = ["a": ["${{ inputs.n * 2 }}", "plain"], "b": "id-${{ index }}"]
        let compiled = try ValueTemplate(compiling: value, path: "with")
        #expect(try compiled.render(in: context) == ["a": [6, "plain"], "b": "id-0"])
    }
}

@Suite("JSON text")
struct JSONTextTests {
    @Test("round-trips with exact numbers and sorted keys")
    func roundTrip() throws {
        let value = try JSONValue(jsonText: #"{"b": [1.10, -0.5e1, "x\n\u00e9"], "a": {"c": null, "d": true}}"#)
        #expect(value.jsonText == #"{"a":{"c":null,"d":true},"b":[1.1,-5,"x\né"]}"#)
        #expect(try JSONValue(jsonText: value.jsonText) == value)
    }

    @Test("escapes the quote, the backslash and control characters only; keys in String order; pretty text indents")
    func escapesAndLayout() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) }))
        let value: JSONValue = ["s": .string(controls + "\"\\/\u{7F}é€😀"), "é": 1, "Z": [], "a": [:]]
        let escaped =
            #"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
            + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
            + #"\"\\/"# + "\u{7F}é€😀"
        #expect(value.jsonText == #"{"Z":[],"a":{},"s":""# + escaped + #"","é":1}"#)
        #expect(try JSONValue(jsonText: value.jsonText) == value)
        let nested: JSONValue = ["b": [:], "a": [1, ["x": "y"]], "c": []]
        #expect(
            nested.prettyJSONText
                == "{\n  \"a\": [\n    1,\n    {\n      \"x\": \"y\"\n    }\n  ],\n  \"b\": {},\n  \"c\": []\n}")
    }

    @Test(
        "numbers read from JSON text are what Number(parsing:) makes of them, to the small integer they keep",
        arguments: [
            "0", "-0", "7", "-12", "999999999999999", "-999999999999999", "1000000000000000", "12345678901234567890",
            "1.50", "-0.25", "1e3", "2E-2", "0.0",
        ])
    func numbers(text: String) throws {
        let parsed = try #require(try JSONValue(jsonText: "[\(text)]").arrayValue?.first?.numberValue)
        let reference = try #require(Number(parsing: text))
        #expect(parsed == reference)
        #expect(parsed.smallInteger == reference.smallInteger)
        #expect(parsed.description == reference.description)
        #expect(parsed.hashValue == reference.hashValue)
    }

    @Test("a number made from a small integer prints as the same number held as a decimal alone")
    func smallIntegerText() {
        for value in [0, 7, -7, 10, 100, -2500, 123_456_789_012_345, -999_999_999_999_999] {
            #expect(Number(value).smallInteger == value)
            #expect(Number(value).description == Number(Decimal(value)).description, "\(value)")
        }
    }

    @Test("rejects malformed text", arguments: ["{", "[1,]", "01", "\"\\x\"", "1 2", "{\"a\" 1}", "nul"])
    func rejects(text: String) {
        #expect(throws: JSONTextError.self) { try JSONValue(jsonText: text) }
    }

    @Test("deep nesting is refused")
    func depth() {
        #expect(throws: JSONTextError.self) { try JSONValue(jsonText: String(repeating: "[", count: 10_000)) }
    }
}

/// A small seeded generator so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
