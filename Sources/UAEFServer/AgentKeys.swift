import Foundation
import UAEFCore
import UAEFLedger
import UAEFStore

/// API keys of remote agents: `uaef_ak_` followed by 43 base64url characters (32 random bytes),
/// shown once when created and stored only as their SHA-256. A key acts as its agent, with the
/// `agent` role, in the agent's tenant.
enum AgentKeys {
    static let prefix = "uaef_ak_"

    /// A new key for `agent` (the key's text, returned once) and the record to store.
    static func make(for agent: AgentRecord, actor: String, now: Date = Date()) -> (key: String, record: AgentKeyRecord)
    {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let key = prefix + Base64URL.encode(bytes)
        let record = AgentKeyRecord(
            id: String(key.prefix(prefix.count + 8)), tenant: agent.tenant, agentID: agent.id,
            sha256: ContentDigest.sha256(Array(key.utf8)), createdAt: now, createdBy: actor)
        return (key, record)
    }

    /// The agent principal of a key, or a 401 problem.
    static func principal(for key: String, store: any WorkflowStore) async throws -> Principal {
        guard let record = try await store.agentKey(sha256: ContentDigest.sha256(Array(key.utf8))) else {
            throw TokenAuthority.unauthorized("unknown agent key; create one with POST /v1/agents/{id}/keys")
        }
        return Principal(subject: record.agentID.rawValue, tenant: record.tenant, roles: [.agent])
    }
}
