import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kind `oracle.invoice.create`: creates a Payables invoice (`invoice`: the `invoices`
/// attributes with `invoiceLines`) on an `oracle` connector's pod, exactly once. Every attempt
/// first looks the invoice up by its number (`InvoiceNumber`; derived from the run and the task
/// when the invoice gives none) and supplier, and adopts the one found (`adopted: true`): Oracle
/// refuses a second invoice number for a supplier, so without the lookup a retry after a lost
/// answer would fail instead. The output names the invoice: `invoice_id`, `invoice_number`,
/// `supplier`, `supplier_number`, `validation_status`, `adopted`.
public struct OracleInvoiceKind: AgentKind {
    let pods: ConnectorClients<OracleFusion>

    /// The `oracle` connectors of `store`, secrets opened with `secrets`, pods reached under `policy`.
    static func pods(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy)
        -> ConnectorClients<OracleFusion>
    {
        ConnectorClients(
            .oracle, store: store, secrets: secrets,
            make: { try await OracleFusion.make(settings: $0, policy: policy) },
            shutdown: { await $0.shutdown() })
    }

    public var name: String { "oracle.invoice.create" }
    public var parameters: WorkflowCatalog.ParameterSpec { .init(required: ["connector", "invoice"], optional: []) }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        _ = try ConnectorParameter.name(request.parameters, caller: name)
        let invoice: OracleInvoice
        do {
            invoice = try OracleInvoice(request.parameters["invoice"] ?? .null, number: Self.number(of: request))
        } catch {
            throw AgentFailure("\(name): \(error)", retryable: false)
        }
        return try await pods.using(request, caller: name) { fusion in
            .object(try await OracleInvoices(fusion: fusion).createOnce(invoice, logger: logger))
        }
    }

    /// `UAEF-` and 20 hex digits of the task's ``MessageIdentity``: the same for every attempt.
    static func number(of request: AttemptRequest) -> String {
        "UAEF-" + MessageIdentity.id(of: request).prefix(20).uppercased()
    }
}
