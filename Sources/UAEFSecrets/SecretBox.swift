import Crypto
import Foundation

/// Seals secrets (credentials that agents use) with AES-256-GCM under a master key that lives
/// outside the store. Each ciphertext is bound to its tenant and name (its associated data), so a
/// sealed value copied to another row or tenant does not open.
public struct SecretBox: Sendable {
    private let key: SymmetricKey
    /// The first 8 hex digits of SHA-256 of the key: which key sealed a value.
    public let keyID: String

    /// Why a master key or a sealed value is refused.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    /// A box with a 32-byte master key.
    public init(key bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw Failure(
                description:
                    "the master key must be 32 bytes (as base64: `head -c 32 /dev/urandom | base64`), not \(bytes.count)"
            )
        }
        key = SymmetricKey(data: bytes)
        keyID = SHA256.hash(data: bytes).prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    /// A box with the master key written in base64 (surrounding white space ignored).
    public init(base64 text: String) throws {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure(description: "the master key is not base64")
        }
        try self.init(key: Array(data))
    }

    /// `value` sealed for `name` in `tenant`: base64 of nonce ‖ ciphertext ‖ tag.
    public func seal(_ value: String, name: String, tenant: String) throws -> String {
        let box = try AES.GCM.seal(Data(value.utf8), using: key, authenticating: Self.context(name, tenant))
        guard let combined = box.combined else { throw Failure(description: "sealing failed") }
        return combined.base64EncodedString()
    }

    /// The value sealed for `name` in `tenant`; fails when it was sealed under another key or for
    /// another name or tenant, or was changed.
    public func open(_ sealed: String, name: String, tenant: String) throws -> String {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Self.context(name, tenant))
        else {
            throw Failure(
                description:
                    "secret \(name) does not open with this master key (key \(keyID)); was it set under another?")
        }
        return String(decoding: plain, as: UTF8.self)
    }

    private static func context(_ name: String, _ tenant: String) -> Data {
        Data("uaef-secret\0\(tenant)\0\(name)".utf8)
    }
}
