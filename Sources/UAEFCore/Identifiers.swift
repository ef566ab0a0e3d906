import Foundation

/// A string identifier typed by what it identifies, so a run id is never passed as an agent id.
public struct TypedID<Kind: IdentifierKind>: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: TypedID, rhs: TypedID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A new id created at `time`: the kind's prefix and 26 characters that sort by time.
    public static func generate(at time: Date, using generator: inout some RandomNumberGenerator) -> TypedID {
        TypedID(Kind.prefix + SortableID.make(at: time, using: &generator))
    }
}

/// What a ``TypedID`` identifies, and the prefix its generated values carry.
public protocol IdentifierKind: Sendable {
    static var prefix: String { get }
}

/// Marks run ids: `run_…`.
public enum RunIdentifier: IdentifierKind {
    public static let prefix = "run_"
}

/// Marks agent ids: `agt_…`.
public enum AgentIdentifier: IdentifierKind {
    public static let prefix = "agt_"
}

/// A run's id: `run_` followed by 26 Crockford base-32 characters, sortable by creation time.
public typealias RunID = TypedID<RunIdentifier>

/// An agent's id: `agt_` and 26 sortable characters.
public typealias AgentID = TypedID<AgentIdentifier>

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
