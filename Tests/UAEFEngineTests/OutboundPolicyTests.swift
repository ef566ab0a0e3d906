import Testing
import UAEFEngine

@Suite("Outbound policy: which addresses a server's http tasks may reach")
struct OutboundPolicyTests {
    @Test(
        "loopback, private, link-local, metadata, CGNAT, multicast and embedded IPv4 forms are not public",
        arguments: [
            "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1",
            "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
            "[::1]",
        ])
    func notPublic(address: String) throws {
        let parsed = try #require(IPAddress(address))
        #expect(!parsed.isPublic)
        #expect(throws: OutboundPolicy.Refusal.self) {
            try OutboundPolicy.publicOnly.check(host: "example.test", addresses: [parsed])
        }
    }

    @Test("public addresses pass; a name that also resolves to a private address does not")
    func publicAddresses() throws {
        let google = try #require(IPAddress("8.8.8.8"))
        let v6 = try #require(IPAddress("2606:4700:4700::1111"))
        #expect(google.isPublic && v6.isPublic)
        try OutboundPolicy.publicOnly.check(host: "dns.test", addresses: [google, v6])
        #expect(throws: OutboundPolicy.Refusal.self) {
            try OutboundPolicy.publicOnly.check(host: "rebind.test", addresses: [google, IPAddress("10.1.1.1")!])
        }
        #expect(throws: OutboundPolicy.Refusal.self) {
            try OutboundPolicy.publicOnly.check(host: "none.test", addresses: [])
        }
    }

    @Test("an administrator's ranges and host names are allowed, nothing else; bad entries are refused")
    func allowances() throws {
        let policy = try OutboundPolicy(allowing: ["10.1.0.0/16", "fd12::/16", "erp.internal", "192.168.7.7"])
        #expect(policy.permits(host: "a", address: IPAddress("10.1.200.3")!))
        #expect(!policy.permits(host: "a", address: IPAddress("10.2.0.1")!))
        #expect(policy.permits(host: "a", address: IPAddress("fd12:3::1")!))
        #expect(!policy.permits(host: "a", address: IPAddress("fd13::1")!))
        #expect(policy.permits(host: "ERP.internal", address: IPAddress("10.9.9.9")!))
        #expect(policy.permits(host: "a", address: IPAddress("192.168.7.7")!))
        #expect(!policy.permits(host: "a", address: IPAddress("192.168.7.8")!))
        for bad in ["10.0.0.0/33", "::1/129", "not a host", "-x"] {
            #expect(throws: OutboundPolicy.Refusal.self) { try OutboundPolicy(allowing: [bad]) }
        }
        #expect(OutboundPolicy.unrestricted.permits(host: "a", address: IPAddress("127.0.0.1")!))
    }
}
