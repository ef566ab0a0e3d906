import Foundation

/// A run's id: `run_` followed by 26 Crockford base-32 characters, sortable by creation time.
public struct RunID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A new id for a run created at `time`.
    public static func generate(at time: Date, using generator: inout some RandomNumberGenerator) -> RunID {
        RunID("run_" + SortableID.make(at: time, using: &generator))
    }
}

/// An agent's id: `agt_` and 26 sortable characters, or a name the operator chose.
public struct AgentID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: AgentID, rhs: AgentID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A new id for an agent registered at `time`.
    public static func generate(at time: Date, using generator: inout some RandomNumberGenerator) -> AgentID {
        AgentID("agt_" + SortableID.make(at: time, using: &generator))
    }
}

/// ULID-style identifiers: 48 bits of milliseconds and 80 random bits in Crockford base 32.
public enum SortableID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// 26 characters that sort by `time` first.
    public static func make(at time: Date, using generator: inout some RandomNumberGenerator) -> String {
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000))
        var characters: [Character] = []
        for shift in stride(from: 45, through: 0, by: -5) {
            characters.append(alphabet[Int((milliseconds >> UInt64(shift)) & 31)])
        }
        for _ in 0..<16 { characters.append(alphabet[Int(generator.next() & 31)]) }
        return String(characters)
    }
}
