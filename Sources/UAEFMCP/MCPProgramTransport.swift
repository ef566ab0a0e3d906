import Foundation
import Logging
import MCP
import Subprocess

/// MCP's stdio transport over a program UAEF started (``HostProgram/interact``): one JSON-RPC
/// message per line on the program's standard input and output. A line longer than
/// ``maximumLineBytes`` ends the session rather than growing memory without bound.
actor MCPProgramTransport: Transport {
    static let maximumLineBytes = 16 << 20

    nonisolated let logger: Logger
    private let writer: StandardInputWriter
    private let output: SubprocessOutputSequence
    private let incoming: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var reader: Task<Void, Never>?
    private var closed: (@Sendable () async -> Void)?
    /// Set once the program's output ended: what is sent after that fails at once.
    private var outputClosed = false

    init(writer: StandardInputWriter, output: SubprocessOutputSequence, logger: Logger) {
        self.writer = writer
        self.output = output
        self.logger = logger
        (incoming, continuation) = AsyncThrowingStream.makeStream()
    }

    struct LineTooLong: Error, CustomStringConvertible {
        var description: String { "the MCP server wrote a line longer than \(maximumLineBytes) bytes" }
    }

    /// The program closed its output (it exited): nothing more will be answered.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the MCP server closed its output (it exited)" }
    }

    /// True once the program's output ended.
    var hasClosedOutput: Bool { outputClosed }

    /// Runs `action` once the program's output ends, so what waits for answers fails at once.
    func whenClosed(_ action: @escaping @Sendable () async -> Void) { closed = action }

    private func outputEnded() async {
        outputClosed = true
        let action = closed
        closed = nil
        await action?()
    }

    func connect() async throws {
        guard reader == nil else { return }
        let (output, continuation) = (self.output, self.continuation)
        reader = Task {
            var line = Data()
            do {
                for try await buffer in output {
                    buffer.withUnsafeBytes { bytes in line.append(contentsOf: bytes) }
                    while let end = line.firstIndex(of: 0x0A) {
                        let message = line[line.startIndex..<end]
                        if !message.isEmpty { continuation.yield(Data(message)) }
                        line = Data(line[(end + 1)...])
                    }
                    guard line.count <= Self.maximumLineBytes else { throw LineTooLong() }
                }
                // A finished stream would have the SDK client's receive loop read it again and
                // again; an error ends that loop.
                continuation.finish(throwing: Closed())
            } catch {
                continuation.finish(throwing: error)
            }
            await self.outputEnded()
        }
    }

    func disconnect() async {
        closed = nil
        reader?.cancel()
        continuation.finish()
        try? await writer.finish()
    }

    func send(_ data: Data) async throws {
        // A request sent after the program exited would wait for an answer that cannot come
        // (the callback may have run before the client had anything to fail).
        guard !outputClosed else { throw Closed() }
        _ = try await writer.write(Array(data) + [0x0A])
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { incoming }
}
