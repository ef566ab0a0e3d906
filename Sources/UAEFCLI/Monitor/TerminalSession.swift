import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The terminal while `uaef monitor` owns it: raw keys without echo, the alternate screen and a
/// hidden cursor, all given back by ``restore()`` (also after SIGINT or SIGTERM, which cancel
/// the monitor). Keys are read on a thread of their own.
final class TerminalSession: @unchecked Sendable {
    private var original = termios()
    private var restored = false
    private let lock = NSLock()

    /// True when standard input and output are both a terminal.
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    init() {
        tcgetattr(STDIN_FILENO, &original)
        var raw = original
        cfmakeraw(&raw)
        // Lines still end with a carriage return, as the screen is written with "\n".
        raw.c_oflag |= tcflag_t(OPOST)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    /// Gives the terminal back as it was; safe to call more than once.
    func restore() {
        lock.lock()
        defer { lock.unlock() }
        guard !restored else { return }
        restored = true
        write("\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
    }

    /// The terminal's columns and rows (80×24 when it does not say).
    var size: (width: Int, height: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else {
            return (80, 24)
        }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    /// Replaces the screen with `lines`.
    func draw(_ lines: [String]) {
        write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J")
    }

    /// The keys pressed, read on a thread of their own until the terminal is restored.
    func keys() -> AsyncStream<MonitorState.Key> {
        AsyncStream { continuation in
            let thread = Thread { [self] in
                var pending: [UInt8] = []
                var byte: UInt8 = 0
                while !isRestored, read(STDIN_FILENO, &byte, 1) == 1 {
                    pending.append(byte)
                    if let key = Self.key(&pending) { continuation.yield(key) }
                }
                continuation.finish()
            }
            thread.start()
        }
    }

    private var isRestored: Bool {
        lock.lock()
        defer { lock.unlock() }
        return restored
    }

    /// The key `bytes` spell once they are complete (arrows are `ESC [ A` and `ESC [ B`); nil
    /// while an escape sequence is still arriving.
    static func key(_ bytes: inout [UInt8]) -> MonitorState.Key? {
        if bytes.first == 0x1B {
            guard bytes.count >= 3 else { return bytes.count == 2 && bytes[1] != 0x5B ? clear(&bytes, .other) : nil }
            return clear(&bytes, bytes[2] == 0x41 ? .up : bytes[2] == 0x42 ? .down : .other)
        }
        let key: MonitorState.Key =
            switch bytes.first {
            case UInt8(ascii: "k"): .up
            case UInt8(ascii: "j"): .down
            case UInt8(ascii: "f"): .filter
            case UInt8(ascii: "c"): .cancel
            case UInt8(ascii: "y"), UInt8(ascii: "Y"): .yes
            case UInt8(ascii: "n"), UInt8(ascii: "N"): .no
            case UInt8(ascii: "q"), 3, 4: .quit  // q, Ctrl-C, Ctrl-D
            default: .other
            }
        return clear(&bytes, key)
    }

    private static func clear(_ bytes: inout [UInt8], _ key: MonitorState.Key) -> MonitorState.Key {
        bytes.removeAll()
        return key
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
