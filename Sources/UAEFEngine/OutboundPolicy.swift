import Foundation

/// Which network addresses a tenant's work may reach (the `http` kind today, webhook delivery
/// later): the server's guard against server-side request forgery.
///
/// `uaef serve` and `uaef worker` deny loopback, private, link-local (cloud metadata at
/// 169.254.169.254 included), carrier-grade NAT, multicast and reserved addresses unless an
/// administrator allows a range or host (`--allow-network`); the check runs on every address a
/// name resolves to, and again at every redirect. The single-user CLI allows everything.
public struct OutboundPolicy: Sendable, Hashable {
    /// True when every address may be reached.
    public var unrestricted: Bool
    /// Ranges allowed even though they are not public.
    public var allowedRanges: [AddressRange]
    /// Host names allowed whatever they resolve to (lowercase).
    public var allowedHosts: Set<String>

    /// Every address may be reached.
    public static let unrestricted = OutboundPolicy(unrestricted: true, allowedRanges: [], allowedHosts: [])
    /// Public addresses only.
    public static let publicOnly = OutboundPolicy(unrestricted: false, allowedRanges: [], allowedHosts: [])

    public init(unrestricted: Bool, allowedRanges: [AddressRange], allowedHosts: Set<String>) {
        self.unrestricted = unrestricted
        self.allowedRanges = allowedRanges
        self.allowedHosts = allowedHosts
    }

    /// Public addresses plus `exceptions`: CIDR ranges (`10.1.0.0/16`, `fd00::/8`), single
    /// addresses, or host names; a bad entry is refused with what would be valid.
    public init(allowing exceptions: [String]) throws(Refusal) {
        var ranges: [AddressRange] = []
        var hosts: Set<String> = []
        for entry in exceptions {
            if let range = AddressRange(entry) {
                ranges.append(range)
            } else if Self.isHostName(entry) {
                hosts.insert(entry.lowercased())
            } else {
                throw Refusal(
                    description:
                        "--allow-network \(entry.prefix(80)): give a CIDR range (10.0.0.0/8, fd00::/8), an IP address or a host name"
                )
            }
        }
        self.init(unrestricted: false, allowedRanges: ranges, allowedHosts: hosts)
    }

    /// Why a destination is refused; the message names the host, never a URL's path or query.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Whether `host` may be reached at `address` (one of the addresses it resolved to).
    public func permits(host: String, address: IPAddress) -> Bool {
        unrestricted || address.isPublic || allowedHosts.contains(host.lowercased())
            || allowedRanges.contains { $0.contains(address) }
    }

    /// Refuses when any of `addresses` may not be reached: a name must not resolve to a public
    /// address and a private one at once (the connection may take either).
    public func check(host: String, addresses: [IPAddress]) throws(Refusal) {
        guard !addresses.isEmpty else { throw Refusal(description: "\(host) has no address") }
        for address in addresses where !permits(host: host, address: address) {
            throw Refusal(
                description:
                    "\(host) resolves to \(address), a \(address.isLoopback ? "loopback" : "private or reserved") address that this server does not reach; an administrator can allow it with --allow-network"
            )
        }
    }

    private static func isHostName(_ text: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
        return (1...253).contains(text.count) && text.allSatisfy(allowed.contains) && !text.hasPrefix("-")
    }
}

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as `::ffff:a.b.c.d`).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address in network order; IPv4 is mapped into IPv6.
    public let bytes: [UInt8]

    /// Parses `1.2.3.4` or an IPv6 address (brackets allowed); nil for anything else.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(ipv4: withUnsafeBytes(of: v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(ipv6: withUnsafeBytes(of: v6) { Array($0) })
        } else {
            return nil
        }
    }

    /// Four bytes of an IPv4 address.
    public init(ipv4 bytes: [UInt8]) { self.bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + bytes.prefix(4) }

    /// Sixteen bytes of an IPv6 address.
    public init(ipv6 bytes: [UInt8]) { self.bytes = Array(bytes.prefix(16)) }

    /// The IPv4 address this is or embeds (mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`), if any.
    var ipv4: [UInt8]? {
        let prefix = Array(bytes[0..<12])
        if prefix == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
            || prefix == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0]
        {
            return Array(bytes[12..<16])
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return Array(bytes[2..<6]) }  // 6to4, 2002::/16
        return nil
    }

    /// True for 127.0.0.0/8 and ::1.
    public var isLoopback: Bool {
        if let v4 = ipv4 { return v4[0] == 127 }
        return bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// True when the address is globally routable: not loopback, private (RFC 1918, unique
    /// local), link-local, carrier-grade NAT, unspecified, multicast, documentation or reserved.
    public var isPublic: Bool {
        if let v4 = ipv4 { return Self.isPublicIPv4(v4) }
        if bytes.allSatisfy({ $0 == 0 }) || isLoopback { return false }
        if bytes[0] & 0xfe == 0xfc { return false }  // fc00::/7 unique local (AWS metadata fd00:ec2::254 too)
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return false }  // fe80::/10 link-local
        if bytes[0] == 0xff { return false }  // multicast
        if bytes[0] == 0x20, bytes[1] == 0x01, bytes[2] == 0x0d, bytes[3] == 0xb8 { return false }  // documentation
        if bytes[0] == 0x01, bytes[1...7].allSatisfy({ $0 == 0 }) { return false }  // 100::/64 discard
        return true
    }

    private static func isPublicIPv4(_ a: [UInt8]) -> Bool {
        switch (a[0], a[1]) {
        case (0, _), (10, _), (127, _): false  // "this network", private, loopback
        case (100, 64...127): false  // carrier-grade NAT
        case (169, 254): false  // link-local, cloud metadata
        case (172, 16...31), (192, 168): false  // private
        case (192, 0) where a[2] == 0 || a[2] == 2: false  // IETF protocol assignments, documentation
        case (198, 18...19): false  // benchmarking
        case (198, 51) where a[2] == 100, (203, 0) where a[2] == 113: false  // documentation
        case (224...255, _): false  // multicast, reserved, broadcast
        default: true
        }
    }

    public var description: String {
        if let v4 = ipv4, bytes[10] == 0xff { return v4.map(String.init).joined(separator: ".") }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CIDR range such as `10.0.0.0/8` or `fd00::/8`; a lone address is a range of one.
public struct AddressRange: Sendable, Hashable {
    public let network: IPAddress
    /// Leading bits that must match, counted over the 16-byte form.
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let isV4 = parts[0].contains(".")
        let full = isV4 ? 32 : 128
        var length = full
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...full).contains(given) else { return nil }
            length = given
        }
        network = address
        prefixLength = (isV4 ? 96 : 0) + length
    }

    public func contains(_ address: IPAddress) -> Bool {
        var remaining = prefixLength
        for (mine, theirs) in zip(network.bytes, address.bytes) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            guard mine & mask == theirs & mask else { return false }
            remaining -= bits
        }
        return true
    }
}
