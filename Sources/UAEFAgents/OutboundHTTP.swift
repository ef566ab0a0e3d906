import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import UAEFCore
import UAEFEngine

/// HTTP requests confined by an ``OutboundPolicy``, for every kind that reaches other systems
/// (`http`, the webhook connector): the host is resolved here, every address checked, and the
/// connection pinned to a checked address, so a second lookup cannot answer differently.
/// Redirects are the caller's to follow (each hop checked the same way) or to refuse.
public struct OutboundHTTP: Sendable {
    /// The largest response body read.
    public static let maximumBodyBytes = 16 << 20

    public let policy: OutboundPolicy

    public init(policy: OutboundPolicy) { self.policy = policy }

    /// RFC 9110 `token` characters: what a method or a header name may hold.
    public static let tokenCharacters = Set(
        "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// Refuses a header whose name is not a token or whose value holds a line break or NUL (which
    /// would end the header and start another on the wire); `caller` names the kind.
    public static func checkHeader(_ name: String, _ value: String, by caller: String) throws {
        guard !name.isEmpty, name.allSatisfy(tokenCharacters.contains) else {
            throw AgentFailure(
                "\(caller): header name \(name.prefix(40).debugDescription) is not an HTTP token", retryable: false)
        }
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw AgentFailure(
                "\(caller): header \(name) holds a line break or NUL, which HTTP does not allow", retryable: false)
        }
    }

    /// Sends `request` (to `url`, with `method`) on a client whose only connection goes to an
    /// address the policy allows, without following redirects, giving up after `timeout`;
    /// `caller` names the kind in errors.
    public func send(
        _ request: HTTPClientRequest, to url: URL, method: String, by caller: String, timeout: TimeAmount = .hours(24),
        logger: Logger
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        let client = try await client(for: url, method: method, by: caller)
        do {
            let answer = try await Self.execute(
                request, on: client, to: url, method: method, by: caller, timeout: timeout, logger: logger)
            try await client.shutdown()
            return answer
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// A client for requests to `url`'s host whose connections go only to an address the policy
    /// allows (resolved now and pinned, so a second lookup cannot answer differently), without
    /// following redirects. It keeps up to `connections` connections alive between requests and
    /// uses `tlsConfiguration` (a client certificate, say) for `https`; the caller shuts it down.
    public func client(
        for url: URL, method: String, by caller: String, connections: Int = 8,
        tlsConfiguration: TLSConfiguration? = nil
    ) async throws -> HTTPClient {
        let host = url.host ?? ""
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        if let tlsConfiguration { configuration.tlsConfiguration = tlsConfiguration }
        if !policy.unrestricted {
            let addresses = try await Self.resolve(host, port: url.port ?? (url.scheme == "https" ? 443 : 80))
            do {
                try policy.check(host: host, addresses: addresses)
            } catch {
                throw AgentFailure("\(caller): \(method) \(Self.redacted(url)) refused: \(error)", retryable: false)
            }
            if IPAddress(host) == nil, let first = addresses.first { configuration.dnsOverride = [host: "\(first)"] }
        }
        return HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
    }

    /// Executes `request` on a client from ``client(for:method:by:)``: the response and its body
    /// (at most ``maximumBodyBytes``); a failure to get them is an ``AgentFailure``.
    public static func execute(
        _ request: HTTPClientRequest, on client: HTTPClient, to url: URL, method: String, by caller: String,
        timeout: TimeAmount, logger: Logger
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        do {
            let response = try await client.execute(request, timeout: timeout, logger: logger)
            let body = try await response.body.collect(upTo: maximumBodyBytes)
            return (response, body)
        } catch {
            if error is CancellationError { throw error }
            throw AgentFailure("\(caller): \(method) \(redacted(url)) failed: \(error)")
        }
    }

    /// Every address `host` resolves to (an IP literal is its own).
    public static func resolve(_ host: String, port: Int) async throws -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
                throw AgentFailure("the host \(host) could not be resolved")
            }
            defer { freeaddrinfo(first) }
            var addresses: [IPAddress] = []
            for entry in sequence(first: first, next: { $0.pointee.ai_next }) {
                guard let socket = entry.pointee.ai_addr else { continue }
                switch Int32(socket.pointee.sa_family) {
                case AF_INET:
                    let v4 = socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(IPAddress(ipv4: withUnsafeBytes(of: v4) { Array($0) }))
                case AF_INET6:
                    let v6 = socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(IPAddress(ipv6: withUnsafeBytes(of: v6) { Array($0) }))
                default: continue
                }
            }
            return addresses
        }
    }

    /// The URL without user information, query or fragment: what errors and events may show.
    public static func redacted(_ url: URL) -> String {
        guard var parts = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "(url)" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        parts.fragment = nil
        return parts.string ?? "(url)"
    }
}
