import Foundation
import Testing
import UAEFCore
import UAEFLedger

@Suite("RFC 8785 canonical JSON")
struct CanonicalJSONTests {
    @Test("members sort by UTF-16 code units, as RFC 8785 §3.2.3 shows")
    func sorting() throws {
        // The RFC's sorting example: keys in UTF-16 order, "\r" < "1" < "\u{80}" < "ö" < "€" < "😀" < "\u{fb33}".
        let value = try JSONValue(
            jsonText:
                #"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}"#
        )
        let expected =
            #"{"\r":"Carriage Return","1":"One","\#u{80}":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\#u{fb33}":"Hebrew Letter Dalet With Dagesh"}"#
        #expect(CanonicalJSON.text(value) == expected)
    }

    @Test(
        "numbers print as ECMAScript prints the double (RFC 8785 Appendix B values that decimals can hold)",
        arguments: [
            ("0", "0"), ("-0", "0"), ("1", "1"), ("-1", "-1"), ("0.1", "0.1"), ("1249.90", "1249.9"),
            ("1e21", "1e+21"), ("1e20", "100000000000000000000"), ("123456789012345678900", "123456789012345680000"),
            ("0.000001", "0.000001"), ("0.0000001", "1e-7"), ("1.5e-7", "1.5e-7"),
            ("9007199254740992", "9007199254740992"),
            ("333333333.33333329", "333333333.3333333"), ("4.35", "4.35"), ("0.5", "0.5"),
        ])
    func numbers(decimal: String, expected: String) throws {
        let number = try #require(Number(parsing: decimal))
        let text = CanonicalJSON.text(.number(number))
        if Number(parsing: expected) == number {
            #expect(text == expected)
        } else {
            // The double would change the value: the exact decimal is kept, as a string.
            #expect(text == "\"\(number.description)\"")
        }
    }

    @Test("strings use the minimal escapes; the RFC's example object canonicalizes exactly")
    func rfcExample() throws {
        let value = try JSONValue(
            jsonText:
                #"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#
        )
        #expect(
            CanonicalJSON.text(value)
                == #"{"literals":[null,true,false],"numbers":["333333333.33333329",1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        )
    }

    @Test("integers made from Int or plain text take the fast path and print what formatting the decimal prints")
    func integerFastPath() throws {
        var generator = SystemRandomNumberGenerator()
        var cases = ["0", "-0", "7", "-42", "+5", "999999999999999", "-999999999999999", "1000000000000000"]
        cases += ["1e3", "12e13", "2.5e1", "100.000", "18446744073709551616"]
        for _ in 0..<2_000 {
            let digits = Int.random(in: 1...17, using: &generator)
            let magnitude = (0..<digits).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
            cases.append((Bool.random(using: &generator) ? "-" : "") + magnitude)
        }
        for text in cases {
            let number = try #require(Number(parsing: text))
            let slow = number.description == "-0" ? "0" : number.description
            let plain = text.drop { $0 == "-" || $0 == "+" }
            #expect((number.smallInteger != nil) == (plain.count <= 15 && plain.allSatisfy(\.isNumber)), "\(text)")
            // Beyond 15 digits the slow path decides (a double may not hold the value).
            if let integer = Int(slow), abs(integer) <= 999_999_999_999_999 {
                #expect(CanonicalJSON.text(.number(number)) == slow, "\(text)")
                #expect(Number(integer).smallInteger == integer)
                #expect(CanonicalJSON.text(.number(Number(integer))) == slow)
            }
        }
    }

    @Test("strings escape exactly as a byte-by-byte escaper does, wherever the escapes fall in eight-byte words")
    func escapesAtEveryPosition() {
        /// RFC 8785 §3.2.2.2: the two-character escapes, \u00xx for other controls, the rest as is.
        func reference(_ text: [UInt8]) -> [UInt8] {
            var output: [UInt8] = [0x22]
            for byte in text {
                switch byte {
                case 0x22, 0x5C: output += [0x5C, byte]
                case 0x08: output += Array(#"\b"#.utf8)
                case 0x09: output += Array(#"\t"#.utf8)
                case 0x0A: output += Array(#"\n"#.utf8)
                case 0x0C: output += Array(#"\f"#.utf8)
                case 0x0D: output += Array(#"\r"#.utf8)
                case 0..<0x20: output += Array(String(format: "\\u%04x", byte).utf8)
                default: output.append(byte)
                }
            }
            return output + [0x22]
        }
        let alphabet: [UInt8] =
            Array("aZ09 /'".utf8) + [
                0x00, 0x01, 0x08, 0x0A, 0x1F, 0x20, 0x21, 0x22, 0x5C, 0x5B, 0x5D, 0x7F, 0xC3, 0xA9,
            ]
        var generator = SystemRandomNumberGenerator()
        for length in 0...40 {
            for _ in 0..<50 {
                // Mostly plain letters, so that words without any escape occur too.
                let text = (0..<length).map { _ in
                    Int.random(in: 0..<4, using: &generator) == 0 ? alphabet.randomElement(using: &generator)! : 0x61
                }
                var output: [UInt8] = []
                text.withUnsafeBytes { CanonicalJSON.writeString(utf8: $0, to: &output) }
                #expect(output == reference(text), "\(text)")
            }
        }
    }
}
