import Crypto
import Foundation

/// Azure Service Bus shared access signatures, as the Azure SDKs make them
/// (`SharedAccessSignature sr=…&sig=…&se=…&skn=…`): the HMAC-SHA256, keyed with the UTF-8 bytes
/// of the key text (not base64-decoded, unlike IoT Hub), of the percent-encoded resource URI, a
/// line feed and the expiry in seconds since 1970; the signature base64 and percent-encoded.
/// The resource URI is encoded with RFC 3986's unreserved characters kept and upper-case hex,
/// as the .NET, JavaScript and Python SDKs do.
public enum ServiceBusSAS {
    /// The `Authorization` value for `resource` (e.g. `https://ns.servicebus.windows.net/orders`),
    /// valid until `expiry`.
    public static func token(resource: String, keyName: String, key: String, expiry: Int64) -> String {
        let encodedResource = SigV4Signer.encode(resource)
        let signature = sign("\(encodedResource)\n\(expiry)", key: key)
        return
            "SharedAccessSignature sr=\(encodedResource)&sig=\(SigV4Signer.encode(signature))&se=\(expiry)&skn=\(SigV4Signer.encode(keyName))"
    }

    /// Base64 of HMAC-SHA256 over `text`, keyed with the UTF-8 bytes of `key`.
    public static func sign(_ text: String, key: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(key.utf8))))
            .base64EncodedString()
    }
}
