import Foundation
import Testing
import UAEFLedger

@Suite("C2SP signed notes and checkpoints")
struct SignedNoteTests {
    /// The reference vector of golang.org/x/mod/sumdb/note (note_test.go), the implementation the
    /// C2SP signed-note specification describes.
    static let verifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let signerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let text =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let note =
        text
        + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test("the Go reference note opens with the Go verifier key; our keys parse and derive the same key ID")
    func referenceVector() throws {
        let verifier = try NoteVerifier(parsing: Self.verifierKey)
        #expect(try SignedNote.open(Self.note, verifier: verifier) == Self.text)
        let signer = try NoteSigner(parsing: Self.signerKey)
        #expect(signer.verifier.text == Self.verifierKey)
        #expect(signer.text == Self.signerKey)
        // Ed25519 is deterministic (RFC 8032): signing the text again gives the reference note.
        #expect(try signer.sign(Self.text) == Self.note)
    }

    @Test("a changed text, another key, a mangled key or a missing signature is refused")
    func refusals() throws {
        let verifier = try NoteVerifier(parsing: Self.verifierKey)
        let changed = Self.note.replacingOccurrences(of: "answer", with: "ANSWER")
        #expect(throws: NoteError.self) { try SignedNote.open(changed, verifier: verifier) }
        let other = try NoteSigner(generatingFor: "PeterNeumann")
        #expect(throws: NoteError.self) { try SignedNote.open(Self.note, verifier: other.verifier) }
        #expect(throws: NoteError.self) { try SignedNote.open(Self.text, verifier: verifier) }
        #expect(throws: NoteError.self) {
            try NoteVerifier(parsing: "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        }
        #expect(throws: NoteError.self) { try NoteVerifier(parsing: "PeterNeumann+c74f20a3") }
        #expect(throws: NoteError.self) { try other.sign("no final newline") }
    }

    @Test("checkpoints sign and open, and a forged size or root is refused")
    func checkpoints() throws {
        let signer = try NoteSigner(generatingFor: "uaef.local/test")
        var log = MerkleLog()
        for index in 0..<10 { log.append(.leaf(Array("e\(index)".utf8))) }
        let checkpoint = Checkpoint(origin: "uaef.local/test", size: 10, root: log.root())
        let note = try checkpoint.signed(by: signer)
        #expect(note.hasPrefix("uaef.local/test\n10\n\(log.root().base64)\n\n— uaef.local/test "))
        #expect(try Checkpoint.open(note, verifier: signer.verifier) == checkpoint)
        let forged = note.replacingOccurrences(of: "\n10\n", with: "\n11\n")
        #expect(throws: NoteError.self) { try Checkpoint.open(forged, verifier: signer.verifier) }
        let reopened = try NoteVerifier(parsing: signer.verifier.text)
        #expect(reopened == signer.verifier)
    }
}
