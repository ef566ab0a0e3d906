import Crypto
import Foundation
import Testing

@testable import UAEFLedger

/// The ledger's SHA-256 runs on the CPU's SHA extensions where it can; it must give exactly
/// swift-crypto's digests (FIPS 180-4), however the bytes are split into updates.
@Suite("Ledger SHA-256")
struct LedgerHasherTests {
    func digest(_ bytes: [UInt8], hardware: Bool, chunk: Int? = nil) -> String {
        var hasher = LedgerHasher(hardware: hardware)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            let step = max(chunk ?? raw.count, 1)
            while offset < raw.count {
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<min(offset + step, raw.count)]))
                offset += step
            }
        }
        return hasher.finalize().hex
    }

    /// The FIPS 180-2 appendix B examples (one block, two blocks, a million `a`) and the empty input.
    static let vectors = [
        ("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        ("a", 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    @Test("published SHA-256 test vectors on swift-crypto", arguments: vectors)
    func portableVectors(text: String, repeats: Int, expected: String) {
        let bytes = Array(repeating: Array(text.utf8), count: repeats).flatMap { $0 }
        #expect(digest(bytes, hardware: false) == expected)
        #expect(digest(bytes, hardware: false, chunk: 7) == expected)
    }

    // Skipped, and reported so, on a CPU without the SHA extensions: there the "hardware" path
    // would be swift-crypto compared with itself.
    @Test(
        "published SHA-256 test vectors on the SHA extensions",
        .enabled(if: LedgerHasher.hardwareAvailable, "this CPU has no SHA extensions"), arguments: vectors)
    func hardwareVectors(text: String, repeats: Int, expected: String) {
        let bytes = Array(repeating: Array(text.utf8), count: repeats).flatMap { $0 }
        #expect(digest(bytes, hardware: true) == expected)
        #expect(digest(bytes, hardware: true, chunk: 7) == expected)
    }

    @Test(
        "on the SHA extensions, every length up to 300 bytes, in whole and in pieces, matches swift-crypto",
        .enabled(if: LedgerHasher.hardwareAvailable, "this CPU has no SHA extensions"))
    func lengths() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            #expect(digest(bytes, hardware: true) == expected, "length \(length)")
            #expect(digest(bytes, hardware: true, chunk: Int.random(in: 1...70, using: &generator)) == expected)
        }
    }

    @Test("this machine's CPU is detected as it reports itself")
    func detection() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        #if arch(x86_64)
            if !flags.isEmpty { #expect(LedgerHasher.hardwareAvailable == flags.contains(" sha_ni")) }
        #else
            #expect(!LedgerHasher.hardwareAvailable)
        #endif
    }
}
