import Foundation
import Synchronization
import UAEFCore
import UAEFEngine

/// Draws a progress bar and the tasks running now on standard error, at most ten times a second.
final class ProgressDisplay: Sendable {
    private let lastDraw = Mutex(Date.distantPast)

    @Sendable func update(_ progress: Runner.Progress) {
        let now = Date()
        let due = lastDraw.withLock { last in
            guard now.timeIntervalSince(last) >= 0.1 else { return false }
            last = now
            return true
        }
        guard due else { return }
        let total = progress.counts.values.reduce(0, +)
        let done = progress.counts.filter(\.key.isTerminal).values.reduce(0, +)
        let width = 30
        let filled = total == 0 ? 0 : width * done / total
        let running = progress.running.prefix(4).joined(separator: ", ") + (progress.running.count > 4 ? ", …" : "")
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(bar)] \(done)/\(total) tasks" + (running.isEmpty ? "" : "  running: \(running)")
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
    }

    /// ``update(_:)`` as a progress callback.
    var callback: @Sendable (Runner.Progress) -> Void { { [self] progress in self.update(progress) } }

    func finish() { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
}
