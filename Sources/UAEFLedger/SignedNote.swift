import Crypto
import Foundation

/// Why a key or a signed note was refused.
public struct NoteError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The public half of a C2SP signed-note Ed25519 key: `<name>+<8 hex key ID>+<base64(0x01 ‖ public key)>`.
public struct NoteVerifier: Sendable, Equatable {
    public static func == (lhs: NoteVerifier, rhs: NoteVerifier) -> Bool { lhs.text == rhs.text }

    public let name: String
    public let keyID: UInt32
    let publicKey: Curve25519.Signing.PublicKey

    /// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`, big-endian.
    static func keyID(name: String, publicKey: [UInt8]) -> UInt32 {
        let digest = Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + publicKey))
        return digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.publicKey = publicKey
        keyID = Self.keyID(name: name, publicKey: Array(publicKey.rawRepresentation))
    }

    /// Parses a verifier key, checking that its key ID matches its name and public key.
    public init(parsing text: String) throws(NoteError) {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, NoteKeys.isValidName(String(parts[0])), parts[1].count == 8,
            let id = UInt32(parts[1], radix: 16), let data = Data(base64Encoded: String(parts[2])), data.count == 33,
            data.first == 0x01, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data.dropFirst())
        else {
            throw NoteError(
                "not a verifier key; expected <name>+<8 hex digits>+<base64 of 0x01 and a 32-byte Ed25519 key>")
        }
        self.init(name: String(parts[0]), publicKey: key)
        guard keyID == id else { throw NoteError("verifier key \(name): the key ID does not match the name and key") }
    }

    /// The verifier key text.
    public var text: String {
        "\(name)+\(NoteKeys.hex(keyID))+\(Data([0x01] + publicKey.rawRepresentation).base64EncodedString())"
    }

    /// True when `signature` is a valid Ed25519 signature of `message` by this key.
    func isValid(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        publicKey.isValidSignature(signature, for: message)
    }
}

/// The private half: `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>`.
public struct NoteSigner: Sendable {
    public let name: String
    let privateKey: Curve25519.Signing.PrivateKey

    /// A new random key named `name`.
    public init(generatingFor name: String) throws(NoteError) {
        guard NoteKeys.isValidName(name) else {
            throw NoteError("key name \"\(name)\" must be non-empty, without spaces or +")
        }
        self.name = name
        privateKey = Curve25519.Signing.PrivateKey()
    }

    /// Parses a signer key, checking its key ID.
    public init(parsing text: String) throws(NoteError) {
        let parts = text.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", NoteKeys.isValidName(String(parts[2])),
            let id = UInt32(parts[3], radix: 16), let data = Data(base64Encoded: String(parts[4])), data.count == 33,
            data.first == 0x01, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: data.dropFirst())
        else {
            throw NoteError(
                "not a signer key; expected PRIVATE+KEY+<name>+<8 hex digits>+<base64 of 0x01 and a 32-byte seed>")
        }
        name = String(parts[2])
        privateKey = key
        guard verifier.keyID == id else { throw NoteError("signer key \(name): the key ID does not match") }
    }

    /// The matching verifier.
    public var verifier: NoteVerifier { NoteVerifier(name: name, publicKey: privateKey.publicKey) }

    /// The signer key text (a secret).
    public var text: String {
        "PRIVATE+KEY+\(name)+\(NoteKeys.hex(verifier.keyID))+\(Data([0x01] + privateKey.rawRepresentation).base64EncodedString())"
    }

    /// Signs `text` (which must end in a newline) as a C2SP signed note.
    public func sign(_ text: String) throws(NoteError) -> String {
        guard text.hasSuffix("\n"), !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw NoteError("a note's text must end in a newline and hold no control characters but newlines")
        }
        let signature: Data
        do {
            signature = try privateKey.signature(for: Array(text.utf8))
        } catch {
            throw NoteError("signing failed: \(error)")
        }
        var blob = withUnsafeBytes(of: verifier.keyID.bigEndian) { Array($0) }
        blob += Array(signature)
        return text + "\n— \(name) \(Data(blob).base64EncodedString())\n"
    }
}

/// Opening signed notes.
public enum SignedNote {
    /// The text of `note` when a signature by `verifier` verifies; throws otherwise.
    ///
    /// Signatures by unknown keys are ignored, as C2SP requires; a signature by the known key
    /// that does not verify rejects the note.
    public static func open(_ note: String, verifier: NoteVerifier) throws(NoteError) -> String {
        guard let split = note.range(of: "\n\n", options: .backwards) else {
            throw NoteError("not a signed note: no blank line before the signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let signatures = note[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        guard note.hasSuffix("\n"), signatures.count >= 2, signatures.last == "" else {
            throw NoteError("not a signed note: signature lines must each end in a newline")
        }
        var verified = false
        for line in signatures.dropLast() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == "—", let blob = Data(base64Encoded: String(fields[2])), blob.count > 4
            else { throw NoteError("malformed signature line: \(line)") }
            let id = blob.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard fields[1] == verifier.name, id == verifier.keyID else { continue }
            guard verifier.isValid(Array(blob.dropFirst(4)), for: Array(text.utf8)) else {
                throw NoteError("the signature by \(verifier.name) does not verify")
            }
            verified = true
        }
        guard verified else { throw NoteError("no signature by \(verifier.name)+\(NoteKeys.hex(verifier.keyID))") }
        return text
    }
}

enum NoteKeys {
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }
    }

    static func hex(_ id: UInt32) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
