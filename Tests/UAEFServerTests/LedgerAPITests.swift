import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import UAEFCore
import UAEFLedger
import UAEFServer
import UAEFStore
import UAEFTestSupport

@Suite("HTTP API: the ledger, reports and live events")
struct LedgerAPITests {
    /// Starts one run in each of two tenants and waits for both to end; returns acme's run id.
    func twoTenantsRun(_ server: ServerHarness) async throws -> String {
        var acmeRun = ""
        for tenant in ["acme", "globex"] {
            let token = try await server.token(tenant, [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"hello"}"#)["run_id"]?
                    .stringValue)
            #expect(try await server.waitForRun(run, token: token)["status"] == "succeeded")
            if tenant == "acme" { acmeRun = run }
        }
        return acmeRun
    }

    @Test(
        "an auditor gets its tenant's events as exported, proofs that verify against the signed checkpoint, and nothing of other tenants"
    )
    func ledgerRoutes() async throws {
        try await ServerHarness.start().serving { server in
            let run = try await twoTenantsRun(server)
            let auditor = try await server.token("acme", [.auditor])

            let keyReply = try await server.send(.GET, "/v1/ledger/key", token: auditor)
            let verifier = try NoteVerifier(parsing: keyReply.body.trimmingCharacters(in: .newlines))
            let note = try await server.send(.GET, "/v1/ledger/checkpoint", token: auditor)
            #expect(note.headers["Content-Type"].first?.hasPrefix("text/plain") == true)
            let checkpoint = try Checkpoint.open(note.body, verifier: verifier)
            #expect(checkpoint.size > 0)

            let events = try await server.send(.GET, "/v1/ledger/events?from=0&limit=1000", token: auditor)
            let lines = try #require(events["events"]?.arrayValue)
            #expect(!lines.isEmpty)
            var indexes: [Int] = []
            for line in lines {
                let object = try #require(line.objectValue)
                let event = try #require(object["event"])
                #expect(event.objectValue?["tenant"] == "acme")
                let leaf = MerkleHash.leaf(CanonicalJSON.bytes(event))
                #expect(object["leaf_hash"]?.stringValue == leaf.base64)
                let index = try #require(object["index"]?.numberValue?.intValue)
                indexes.append(index)
                guard index < checkpoint.size else { continue }
                let proof = try await server.send(
                    .GET, "/v1/ledger/proofs/inclusion?index=\(index)&size=\(checkpoint.size)", token: auditor)
                let hashes = try #require(proof["proof"]?.arrayValue).compactMap {
                    $0.stringValue.flatMap(MerkleHash.init(base64:))
                }
                try ProofVerifier.verifyInclusion(
                    leaf: leaf, index: index, size: checkpoint.size, proof: hashes, root: checkpoint.root)
            }
            // globex's events are in the same log, but not for acme's auditor.
            let hidden = try #require((0..<checkpoint.size).first { !indexes.contains($0) })
            #expect(
                try await server.send(.GET, "/v1/ledger/proofs/inclusion?index=\(hidden)", token: auditor).status == 404
            )
            let consistency = try await server.send(
                .GET, "/v1/ledger/proofs/consistency?from=1&to=\(checkpoint.size)", token: auditor)
            try ProofVerifier.verifyConsistency(
                oldSize: 1, newSize: checkpoint.size,
                oldRoot: try #require(consistency["root1"]?.stringValue.flatMap(MerkleHash.init(base64:))),
                newRoot: checkpoint.root,
                proof: try #require(consistency["proof"]?.arrayValue).compactMap {
                    $0.stringValue.flatMap(MerkleHash.init(base64:))
                })
            #expect(
                try await server.send(.GET, "/v1/ledger/proofs/consistency?from=0&to=1", token: auditor).status == 400)

            let report = try await server.send(.GET, "/v1/runs/\(run)/report", token: auditor)
            #expect(report.status == 200)
            #expect(try await server.send(.GET, "/v1/runs/\(run)/report?format=md", token: auditor).body.contains(run))
            let stranger = try await server.token("globex", [.auditor])
            #expect(try await server.send(.GET, "/v1/runs/\(run)/report", token: stranger).status == 404)
            // Viewers read runs but not the ledger.
            let viewer = try await server.token("acme", [.viewer])
            #expect(try await server.send(.GET, "/v1/ledger/events", token: viewer).status == 403)
        }
    }

    /// Reads a server-sent event stream until it ends or `enough` holds, 20 s at most.
    func readStream(
        _ server: ServerHarness, _ path: String, token: String, lastEventID: String? = nil,
        until enough: @escaping ([(id: Int, type: String)]) -> Bool = { _ in false },
        onLive: @escaping @Sendable () -> Void = {}
    ) async throws -> [(id: Int, type: String)] {
        var request = HTTPClientRequest(url: server.base + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        #expect(response.headers["Content-Type"].first == "text/event-stream")
        var text = ""
        var messages: [(id: Int, type: String)] = []
        for try await chunk in response.body {
            text += String(buffer: chunk)
            while let end = text.range(of: "\n\n") {
                let block = text[..<end.lowerBound]
                text = String(text[end.upperBound...])
                var id: Int?
                var type = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = Int(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                }
                if let id { messages.append((id, type)) }
                if block == ": live" { onLive() }
            }
            if enough(messages) { break }
        }
        return messages
    }

    @Test("a run's event stream replays it in order and ends with it; Last-Event-ID resumes after that event")
    func runStream() async throws {
        try await ServerHarness.start().serving { server in
            let run = try await twoTenantsRun(server)
            let token = try await server.token("acme", [.viewer])
            let all = try await readStream(server, "/v1/runs/\(run)/events", token: token)
            #expect(all.first?.type == "run.created")
            #expect(all.last?.type == "run.succeeded")
            #expect(all.map(\.id) == all.map(\.id).sorted())
            let resumed = try await readStream(
                server, "/v1/runs/\(run)/events", token: token, lastEventID: String(all[1].id))
            #expect(resumed.map(\.id) == Array(all.dropFirst(2)).map(\.id))
            #expect(
                try await server.send(.GET, "/v1/runs/\(run)/events", token: try await server.token("globex", [.admin]))
                    .status == 404)
        }
    }

    /// Reads the tenant stream from the log's current end, whenever it gets to open, until an
    /// event of type `type` arrives.
    func streamFromEnd(_ server: ServerHarness, token: String, until type: String) async throws -> Task<
        [(id: Int, type: String)], any Error
    > {
        let start = try await server.store.treeHead().size
        let (live, announce) = AsyncStream<Void>.makeStream()
        let reader = Task {
            defer { announce.finish() }
            return try await readStream(
                server, "/v1/events?from=\(start)", token: token,
                until: { messages in messages.contains { $0.type == type } }, onLive: { announce.yield() })
        }
        // Returned once the server has said the stream caught up and waits for new commits.
        for await _ in live { break }
        return reader
    }

    @Test("the tenant stream delivers events committed after it opened, and only the tenant's")
    func liveStream() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            // Later events, nothing before.
            let listener = try await streamFromEnd(server, token: token, until: "run.succeeded")
            let other = try await server.token("globex", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: other, body: ServerHarness.helloWorkflow)
            _ = try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"hello"}"#)
            let messages = try await listener.value
            #expect(messages.first?.type == "run.created")
            #expect(messages.contains { $0.type == "task.succeeded" })
            // globex's workflow.registered happened after the stream opened but is not acme's.
            #expect(!messages.contains { $0.type == "workflow.registered" })
        }
    }

    @Test(
        "with polling all but off (600 s), streams get commits at once: this process's, and on PostgreSQL another's",
        arguments: StoreBackend.allCases)
    func notifiedStreams(_ backend: StoreBackend) async throws {
        // readStream gives up after 20 s, so only a notification can deliver these events in time.
        try await ServerHarness.start(backend: backend, eventStreamPollInterval: .seconds(600)).serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            // Returned once the stream has caught up and waits: only a notification can wake it now.
            let listener = try await streamFromEnd(server, token: token, until: "run.succeeded")
            _ = try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"hello"}"#)
            #expect(try await listener.value.contains { $0.type == "run.succeeded" })

            guard backend == .postgres else { return }
            let second = try await streamFromEnd(server, token: token, until: "test.elsewhere")
            // Another process's commit: a store of its own on the same database.
            var changes = ChangeSet()
            changes.events = [
                EventDraft(
                    id: "evt_elsewhere", time: Date(), type: "test.elsewhere", actor: "test", tenant: "acme",
                    subject: "s",
                    data: [:])
            ]
            try await server.location.open().commit(changes)
            #expect(try await second.value.contains { $0.type == "test.elsewhere" })
        }
    }
}
