import ArgumentParser
import Foundation
import UAEFCore
import UAEFServer

/// Where the token secret comes from, shared by `uaef serve` and `uaef tokens issue`.
struct TokenOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A file holding the HS256 secret for bearer tokens (at least 32 bytes; e.g. `head -c 48 /dev/urandom | base64 > secret`). Default: $UAEF_TOKEN_SECRET.",
            valueName: "path"))
    var tokenSecretFile: String?

    @Option(
        name: .customLong("token-jwks-file"),
        help: ArgumentHelp(
            "A JWKS file of public keys (EdDSA, RS256, ES256; each with kid and alg) whose tokens are accepted too.",
            valueName: "path"))
    var tokenJWKSFile: String?

    @Option(help: "Tokens must carry this issuer (iss); issued tokens carry it.") var tokenIssuer: String?
    @Option(help: "Tokens must list this audience (aud); issued tokens carry it.") var tokenAudience: String?
    @Option(
        help: ArgumentHelp(
            "The longest a token may still be valid when presented; longer-lived tokens are refused (and not issued).",
            valueName: "duration"))
    var tokenMaxLifetime: String = "24h"

    /// The maximum lifetime given, once validated.
    func maximumLifetime() throws -> Duration {
        guard let lifetime = DurationText.parse(tokenMaxLifetime), lifetime > .zero else {
            throw CLIError.usage("--token-max-lifetime \(tokenMaxLifetime): expected \(DurationText.expectation)")
        }
        return lifetime
    }

    /// The token authority, or nil when neither a secret nor a JWKS is configured.
    func authority() async throws -> TokenAuthority? {
        var secret: [UInt8]?
        if let path = tokenSecretFile {
            secret = Array(try Console.readFile(path).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        } else if let text = ProcessInfo.processInfo.environment["UAEF_TOKEN_SECRET"], !text.isEmpty {
            secret = Array(text.utf8)
        }
        let jwks = try tokenJWKSFile.map(Console.readFile)
        guard secret != nil || jwks != nil else { return nil }
        do {
            return try await TokenAuthority(
                .init(
                    secret: secret, jwks: jwks, issuer: tokenIssuer, audience: tokenAudience,
                    maximumLifetime: try maximumLifetime()))
        } catch let weak as TokenAuthority.WeakSecret {
            throw CLIError.usage(
                "\(tokenSecretFile.map { "--token-secret-file \($0)" } ?? "UAEF_TOKEN_SECRET"): \(weak)")
        } catch let bad as TokenAuthority.BadKeySet {
            throw CLIError.usage("--token-jwks-file \(tokenJWKSFile ?? ""): \(bad)")
        }
    }
}

/// `uaef tokens`: bearer tokens for the HTTP API.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Issue bearer tokens for the HTTP API (uaef serve).",
        subcommands: [IssueToken.self])

    struct IssueToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract:
                "Sign a token for a subject in a tenant with roles; prints it (--json: {\"token\", \"expires_at\"}).",
            discussion: """
                Roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")). Give the server the same \
                secret (--token-secret-file or UAEF_TOKEN_SECRET) and, if set, the same issuer and audience.
                """)

        @Option(help: "Who the token is for (sub), recorded as the actor api:<sub>.") var sub: String
        @Option(help: "The tenant whose resources the token reaches.") var tenant: String
        @Option(help: "Comma-separated roles.") var roles: String
        @Option(
            name: .customLong("approves-as"),
            help:
                "A business role the subject approves in (the role a settlement rule or approval task names); repeat for more."
        ) var approvalRoles: [String] = []
        @Option(help: "How long the token is valid (\(DurationText.expectation)).") var ttl: String = "1h"
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var tokenOptions: TokenOptions

        func run() async throws {
            let parsedRoles = try Role.parseList(roles, option: "--roles")
            guard Principal.isValidSubject(sub) else {
                throw CLIError.usage("--sub must be 1 to 256 printable characters")
            }
            guard TenantName.isValid(tenant) else {
                throw CLIError.usage("--tenant \(tenant.prefix(80)): a tenant is \(TenantName.pattern)")
            }
            guard let lifetime = DurationText.parse(ttl), lifetime > .zero else {
                throw CLIError.usage("--ttl \(ttl): expected \(DurationText.expectation)")
            }
            guard lifetime <= (try tokenOptions.maximumLifetime()) else {
                throw CLIError.usage(
                    "--ttl \(ttl) is longer than servers accept (--token-max-lifetime \(tokenOptions.tokenMaxLifetime))"
                )
            }
            guard let authority = try await tokenOptions.authority() else {
                throw CLIError.usage("no token secret: give --token-secret-file or set UAEF_TOKEN_SECRET")
            }
            let now = Date()
            let token = try await authority.issue(
                for: Principal(subject: sub, tenant: tenant, roles: parsedRoles, approvalRoles: Set(approvalRoles)),
                lifetime: lifetime, now: now)
            if json {
                let expires = now.addingTimeInterval(Double(lifetime.components.seconds))
                print(
                    JSONValue.object(["token": .string(token), "expires_at": .string(Timestamp.format(expires))])
                        .jsonText)
            } else {
                print(token)
            }
        }
    }
}

extension Role {
    /// The roles of a comma-separated list given to `option`; a usage error naming the valid
    /// roles for an unknown one or an empty list.
    static func parseList(_ text: String, option: String) throws -> Set<Role> {
        var roles: Set<Role> = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let role = Role(rawValue: name) else {
                throw CLIError.usage(
                    "\(option): '\(name)' is not a role; roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else { throw CLIError.usage("\(option): name at least one role") }
        return roles
    }
}
