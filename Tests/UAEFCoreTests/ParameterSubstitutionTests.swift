import Testing
import UAEFCore

@Suite("Template parameters replaced in a string")
struct ParameterSubstitutionTests {
    let parameters: [String: JSONValue] = [
        "threshold": 1000, "role": "finance", "kinds": ["a", "b"], "negative": -5,
        "limits": ["max": 3], "quote": "say \"hi\"\n\\",
    ]

    @Test("a lone parameter keeps its type; text around it makes text")
    func loneAndText() throws {
        #expect(
            try ParameterSubstitution.substitute(in: "${{ params.threshold }}", parameters: parameters) == .value(1000))
        #expect(
            try ParameterSubstitution.substitute(in: " ${{params.kinds}} ", parameters: parameters)
                == .value(["a", "b"]))
        #expect(
            try ParameterSubstitution.substitute(
                in: "over ${{ params.threshold }} for ${{ params.role }}", parameters: parameters)
                == .text("over 1000 for finance"))
        #expect(
            try ParameterSubstitution.substitute(in: "${{ params.limits.max * 2 }}", parameters: parameters)
                == .value(6))
    }

    @Test("templates that read no parameter are left for the run, verbatim")
    func runTemplatesKept() throws {
        #expect(try ParameterSubstitution.substitute(in: "${{ inputs.total }}", parameters: parameters) == .unchanged)
        #expect(try ParameterSubstitution.substitute(in: "plain text", parameters: parameters) == .unchanged)
        #expect(
            try ParameterSubstitution.substitute(
                in: "Invoice ${{inputs.id}} above ${{ params.threshold }}", parameters: parameters)
                == .text("Invoice ${{inputs.id}} above 1000"))
    }

    @Test("an expression reading parameters and run data gets each parameter as a literal")
    func mixedExpressions() throws {
        #expect(
            try ParameterSubstitution.substitute(
                in: "${{ tasks.x.output.total > params.threshold && inputs.role == params.role }}",
                parameters: parameters)
                == .text("${{ tasks.x.output.total > 1000 && inputs.role == \"finance\" }}"))
        #expect(
            try ParameterSubstitution.substitute(in: "${{ contains(params.kinds, item) }}", parameters: parameters)
                == .text("${{ contains([\"a\", \"b\"], item) }}"))
        #expect(
            try ParameterSubstitution.substitute(in: "${{ inputs.n - params.negative }}", parameters: parameters)
                == .text("${{ inputs.n - (-5) }}"))
        #expect(
            try ParameterSubstitution.substitute(in: "${{ inputs.n < params.limits.max }}", parameters: parameters)
                == .text("${{ inputs.n < 3 }}"))
        // The literal reads back as the same text, quotes, newlines and backslashes included.
        guard
            case .text(let text) = try ParameterSubstitution.substitute(
                in: "${{ inputs.s == params.quote }}", parameters: parameters)
        else {
            Issue.record("expected text")
            return
        }
        let expression = try Expression(parsing: String(text.dropFirst(3).dropLast(2)))
        #expect(try expression.evaluate(in: ["inputs": ["s": parameters["quote"]!]]) == .bool(true))
    }

    @Test("what cannot be substituted is refused with the reason")
    func refusals() throws {
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ inputs.a == params.limits }}", parameters: parameters)
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ params[inputs.key] }}", parameters: parameters)
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ params }}", parameters: parameters)
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(
                in: "x ${{ params.open }}", parameters: ["open": "${{ inputs.secret }}"])
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ params.threshold ", parameters: parameters)
        }
    }

    @Test("a value whose characters would join the quotes around it is refused, not left to change the expression")
    func joiningCharactersRefused() throws {
        // U+0600 (a Prepend character) joins the closing quote into one Character, so the lexer
        // would read on into the next value: `inputs.a == "z…" || true || …`, always true.
        let text = "${{ inputs.a == params.x && inputs.b == params.y }}"
        let values: [String: JSONValue] = ["x": "z\u{600}", "y": " || true || tasks.t.output.z\u{D4E}"]
        #expect(throws: ExpressionError.self) { try ParameterSubstitution.substitute(in: text, parameters: values) }
        // A combining mark at the start joins the opening quote.
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ inputs.a == params.x }}", parameters: ["x": "\u{301}a"])
        }
        // Carriage returns, NUL and line separators read back as themselves.
        let odd: JSONValue = "a\r\nb\u{0}c\u{2028}d\u{85}"
        guard
            case .text(let replaced) = try ParameterSubstitution.substitute(
                in: "${{ inputs.s == params.x }}", parameters: ["x": odd])
        else {
            Issue.record("expected text")
            return
        }
        let expression = try Expression(parsing: String(replaced.dropFirst(3).dropLast(2)))
        #expect(try expression.evaluate(in: ["inputs": ["s": odd]]) == .bool(true))
    }

    @Test("values that together make a ${{ are refused, side by side or computed")
    func madeTemplatesRefused() throws {
        let pieces: [String: JSONValue] = ["a": "$", "b": "{{ inputs.secret }}"]
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ params.a }}${{ params.b }}", parameters: pieces)
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "${{ params.a + params.b }}", parameters: pieces)
        }
        #expect(throws: ExpressionError.self) {
            try ParameterSubstitution.substitute(in: "$${{ params.b }}", parameters: pieces)
        }
        #expect(
            try ParameterSubstitution.substitute(in: "${{ params.a }} and ${{ inputs.x }}", parameters: pieces)
                == .text("$ and ${{ inputs.x }}"))
    }

    @Test("names lists the parameters a string reads, not fields named params")
    func names() throws {
        #expect(
            try ParameterSubstitution.names(
                in: "${{ params.a + params.b.c }} ${{ inputs.params.x }} ${{ tasks.t.output }}") == ["a", "b"])
    }
}
