import Logging
import UAEFConnectors
import UAEFEngine
import UAEFLedger
import UAEFServer

/// `uaef serve`'s server in a benchmark's process: on a free loopback port, without rate limits
/// or logs, stopped when `body` returns; its connectors reach what `connectorAccess` allows
/// (public addresses unless given) and are looked up every 200 ms.
enum BenchServer {
    static func serving<Result>(
        _ engine: Engine, connectorAccess: ConnectorAccess = ConnectorAccess(policy: .publicOnly),
        _ body: (_ base: String) async throws -> Result
    ) async throws -> Result {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.rateLimit = nil
        configuration.connectorAccess = connectorAccess
        configuration.connectorLookupInterval = .milliseconds(200)
        var logger = Logger(label: "uaef-bench-server")
        logger.logLevel = .critical
        let runtime = ServerRuntime(engine: engine, signer: try NoteSigner(generatingFor: "uaef.bench/ledger"))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Task {
            try await APIServer.run(configuration, runtime: runtime, logger: logger) { continuation.yield($0) }
        }
        // Stopped and waited for, whether `body` returns or throws.
        let result: Result
        do {
            guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
            result = try await body("http://127.0.0.1:\(port)")
        } catch {
            server.cancel()
            _ = try? await server.value
            throw error
        }
        server.cancel()
        _ = try? await server.value
        return result
    }
}
