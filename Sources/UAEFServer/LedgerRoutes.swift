import Hummingbird
import NIOCore
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFStore

/// `/v1/ledger`: the signed checkpoint, the verifier key, the tenant's events as exported, proofs;
/// and the compliance reports of runs and settlements. The log is shared by every tenant of the
/// store, so events are filtered to the caller's tenant and an inclusion proof is given only for
/// the caller's own events; roots, checkpoints and consistency proofs are hashes and open to any
/// auditor.
struct LedgerRoutes {
    let operations: APIOperations

    var runtime: ServerRuntime { operations.runtime }

    /// Events scanned per request at most, so a sparse tenant's page ends (with `next_from`).
    static let scanLimit = 10_000

    var store: any WorkflowStore { runtime.engine.store }

    func add(to group: RouterGroup<APIContext>) {
        group.get("ledger/checkpoint") { _, context in
            _ = try context.require(.readLedger)
            let note = try await Checkpointer(store: store, signer: runtime.signer).checkpoint()
            return Self.text(note)
        }
        group.get("ledger/key") { _, context in
            _ = try context.require(.readLedger)
            return Self.text(runtime.signer.verifier.text + "\n")
        }
        group.get("ledger/events") { request, context in
            let principal = try context.require(.readLedger)
            let from = try request.integerQuery("from", in: 0...Int(Int64.max)) ?? 0
            let limit = try request.integerQuery("limit", in: 1...1000) ?? 100
            var lines: [String] = []
            var next = Int64(from)
            var scanned = 0
            scan: while lines.count < limit && scanned < Self.scanLimit {
                guard let page = try await store.tenantEvents(from: next, scanning: 1000, tenant: principal.tenant)
                else { break }
                scanned += Int(page.next - next)
                next = page.next
                for record in page.records {
                    lines.append(LedgerDocuments.exportLine(record))
                    if lines.count == limit {
                        next = record.seq + 1
                        break scan
                    }
                }
            }
            // Each line is the exact export text (its event the bytes that were hashed), embedded as is.
            let body = #"{"events":[\#(lines.joined(separator: ","))],"next_from":\#(next)}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        group.get("ledger/proofs/inclusion") { request, context in
            let principal = try context.require(.readLedger)
            guard let index = try request.integerQuery("index", in: 0...Int(Int64.max - 1)) else {
                throw Problem.badRequest("give index=<event seq> (and optionally size=<tree size>)")
            }
            let size = try request.integerQuery("size", in: 1...Int(Int64.max))
            return JSONMessage.response(
                try await operations.inclusionProof(index: index, size: size, tenant: principal.tenant))
        }
        group.get("ledger/proofs/consistency") { request, context in
            _ = try context.require(.readLedger)
            guard let from = try request.integerQuery("from", in: 1...Int(Int64.max)),
                let to = try request.integerQuery("to", in: 1...Int(Int64.max))
            else { throw Problem.badRequest("give from=<older tree size> and to=<newer tree size>") }
            return JSONMessage.response(
                try await Self.proof { try await LedgerDocuments.consistency(from: from, to: to, store: store) })
        }
        group.get("runs/:id/report") { request, context in
            let principal = try context.require(.readLedger)
            let id = try context.parameters.require("id")
            guard let subject = try await LedgerReport.subject(run: RunID(id), tenant: principal.tenant, store: store)
            else { throw Problem.notFound("run \(id)") }
            return try await report(subject, request: request)
        }
        group.get("settlements/:id/report") { request, context in
            let principal = try context.require(.readLedger)
            let id = try context.parameters.require("id")
            guard let subject = try await LedgerReport.subject(settlement: id, tenant: principal.tenant, store: store)
            else { throw Problem.notFound("settlement \(id)") }
            return try await report(subject, request: request)
        }
    }

    /// The report in the format asked for (`format=json` by default, `md` or `csv`).
    private func report(_ subject: LedgerReport.Subject, request: Request) async throws -> Response {
        let format = try request.textQuery("format") ?? "json"
        guard ["json", "md", "csv"].contains(format) else {
            throw Problem.badRequest("format=\(format) is not one of json, md, csv")
        }
        let report = try await LedgerReport.build(subject, store: store, signer: runtime.signer)
        switch format {
        case "md": return Self.text(report.markdown, type: "text/markdown; charset=utf-8")
        case "csv": return Self.text(report.csv, type: "text/csv; charset=utf-8")
        default: return JSONMessage.response(report.json)
        }
    }

    /// A proof document, with a range the tree does not have answered as 400.
    private static func proof(_ make: () async throws -> JSONValue) async throws -> JSONValue {
        do {
            return try await make()
        } catch let error as LedgerDocuments.OutOfRange {
            throw Problem.badRequest(error.description)
        }
    }

    static func text(_ text: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
