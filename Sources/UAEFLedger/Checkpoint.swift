/// A C2SP tlog-checkpoint: the origin, the tree size and the root, as the text a note signs.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: Int
    public var root: MerkleHash

    public init(origin: String, size: Int, root: MerkleHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// `<origin>\n<size>\n<base64 root>\n`.
    public var body: String { "\(origin)\n\(size)\n\(root.base64)\n" }

    /// Reads a checkpoint body (extension lines after the root are allowed and ignored).
    public init(body: String) throws(NoteError) {
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty, let size = Int(lines[1]), size >= 0,
            String(size) == lines[1], let root = MerkleHash(base64: String(lines[2]))
        else { throw NoteError("not a checkpoint: expected origin, tree size and base64 root hash lines") }
        self.init(origin: String(lines[0]), size: size, root: root)
    }

    /// Signs the checkpoint as a signed note.
    public func signed(by signer: NoteSigner) throws(NoteError) -> String { try signer.sign(body) }

    /// Opens a signed checkpoint note with `verifier`.
    public static func open(_ note: String, verifier: NoteVerifier) throws(NoteError) -> Checkpoint {
        try Checkpoint(body: SignedNote.open(note, verifier: verifier))
    }
}
