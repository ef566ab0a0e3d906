import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import UAEFCore
import UAEFEngine
import UAEFStore

/// Live events as Server-Sent Events: `GET /v1/events` (the tenant's events as they are
/// committed) and `GET /v1/runs/{id}/events` (one run's, from its first, ending after the run
/// ends). Each message's `id` is the event's ledger `seq`, so a client that reconnects with
/// `Last-Event-ID` misses nothing and sees nothing twice; `from=<seq>` starts elsewhere.
struct EventStreamRoutes {
    let runtime: ServerRuntime
    /// How often an idle stream reads the log when no notification came
    /// (``ServerConfiguration/eventStreamPollInterval``).
    let pollInterval: Duration
    /// A comment line this often keeps proxies from closing an idle stream.
    let keepAliveInterval: Duration = .seconds(15)

    func add(to group: RouterGroup<APIContext>) {
        group.get("events") { request, context in
            let principal = try context.require(.read)
            let current = Int64(try await runtime.engine.store.treeHead().size)
            return stream(from: try startSeq(request) ?? current, principal: principal, run: nil)
        }
        group.get("runs/:id/events") { request, context in
            let principal = try context.require(.read)
            let id = try await existingRun(try context.parameters.require("id"), tenant: principal.tenant)
            return stream(from: try startSeq(request) ?? 0, principal: principal, run: id)
        }
    }

    /// The tenant's run `id`, or a 404 problem: known by its first event (`run.created`), one
    /// index lookup however many tasks the run has.
    func existingRun(_ id: String, tenant: String) async throws -> RunID {
        let run = RunID(id)
        guard try await runtime.engine.store.runEvents(of: run, tenant: tenant, from: 0, limit: 1).first != nil else {
            throw Problem.notFound("run \(id)")
        }
        return run
    }

    /// Where to start: after `Last-Event-ID`, else at `from`, else nil.
    func startSeq(_ request: Request) throws -> Int64? {
        if let last = request.headers[.lastEventID] {
            // The seq of an event received: -1 (none yet) up to the largest seq there can be.
            guard let seq = Int64(last), seq >= -1, seq < Int64.max else {
                throw Problem.badRequest(
                    "Last-Event-ID: \(last.prefix(40)) is not an event seq (an integer from -1 to \(Int64.max - 1))")
            }
            return seq + 1
        }
        return try request.integerQuery("from", in: 0...Int(Int64.max)).map(Int64.init)
    }

    /// The stream of `principal`'s tenant's events from `start` (of one run's only, when `run` is
    /// given, ending after the run ends), each as `message` formats it.
    func stream(
        from start: Int64, principal: Principal, run: RunID?,
        message: @escaping @Sendable (EventRecord, _ withPayloads: Bool) -> String = Self.message
    ) -> Response {
        let store = runtime.engine.store
        let commits = runtime.eventCommits
        let withPayloads = principal.may(.readLedger)
        let pollInterval = pollInterval
        let keepAliveInterval = keepAliveInterval
        let body = ResponseBody { writer in
            var next = start
            var idleSince = ContinuousClock.now
            var caughtUp = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                // Noted before reading, so that a commit during the read is not slept through.
                let seen = commits.generation
                // A run's events through the store's index of them; the tenant's by scanning the log.
                let page: (records: [EventRecord], next: Int64)?
                if let run {
                    let records = try await store.runEvents(of: run, tenant: principal.tenant, from: next, limit: 500)
                    page = records.last.map { (records, $0.seq + 1) }
                } else {
                    page = try await store.tenantEvents(from: next, scanning: 500, tenant: principal.tenant).map {
                        ($0.records, $0.next)
                    }
                }
                if let page { next = page.next }
                var text = ""
                var runEnded = false
                for record in page?.records ?? [] {
                    if run != nil, Self.runEndings.contains(record.event.type) { runEnded = true }
                    if record.event.type == "run.retried" { runEnded = false }
                    text += message(record, withPayloads)
                }
                if !text.isEmpty {
                    try await writer.write(ByteBuffer(string: text))
                    idleSince = .now
                }
                if let run, runEnded, try await Self.hasEnded(run, after: next, tenant: principal.tenant, store: store)
                {
                    break
                }
                if page == nil {
                    if !caughtUp {
                        // Everything committed so far is delivered; from here on events arrive live.
                        try await writer.write(ByteBuffer(string: ": live\n\n"))
                        caughtUp = true
                        idleSince = .now
                    } else if ContinuousClock.now - idleSince >= keepAliveInterval {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        idleSince = .now
                    }
                    await commits.wait(after: seen, atMost: pollInterval)
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// The event types that end a run (until a retry reopens it).
    static let runEndings: Set<String> = ["run.succeeded", "run.failed", "run.cancelled"]

    /// Whether a run whose events up to `next` end with its ending is still ended with nothing
    /// after: a retry reopens the run and records `run.retried` in the same transaction, so its
    /// stream goes on to the run's next ending.
    static func hasEnded(_ run: RunID, after next: Int64, tenant: String, store: any WorkflowStore) async throws
        -> Bool
    {
        guard try await store.run(run, tenant: tenant)?.status.isTerminal ?? true else { return false }
        return try await store.runEvents(of: run, tenant: tenant, from: next, limit: 1).isEmpty
    }

    /// One SSE message: `id: <seq>`, `event: <type>`, `data: <the ledger object as JSON>` (with
    /// `payloads` for principals who may read ledger payloads).
    @Sendable static func message(_ record: EventRecord, withPayloads: Bool) -> String {
        var object = record.ledgerObject.objectValue ?? [:]
        if withPayloads && !record.event.payloads.isEmpty { object["payloads"] = .object(record.event.payloads) }
        return "id: \(record.seq)\nevent: \(record.event.type)\ndata: \(JSONValue.object(object).jsonText)\n\n"
    }
}

extension HTTPField.Name {
    /// `Last-Event-ID` (HTML Living Standard, server-sent events).
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
