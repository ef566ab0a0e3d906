/// What the ledger page shows: the latest signed checkpoint and whether its signature verifies,
/// and one of the tenant's events with its exact hashed bytes and its inclusion proof, which the
/// page's script checks against the checkpoint's root in the browser (WebCrypto SHA-256).
public struct LedgerView: Sendable {
    /// One event and its proof.
    public struct Event: Sendable {
        public var index: Int
        public var type: String
        public var subject: String
        public var time: String
        public var actor: String
        /// The RFC 8785 text whose bytes were hashed into the leaf.
        public var canonical: String
        /// Base64 of the leaf hash, SHA-256(0x00 ‖ canonical).
        public var leafHash: String
        /// Base64 of each hash of the inclusion proof in the checkpoint's tree.
        public var proof: [String]
        public var proofCount: Int
        /// The proof as a JSON array, for the script.
        public var proofJSON: String
        /// False when the event came after the checkpoint (then there is no proof yet).
        public var inCheckpoint: Bool

        public init(
            index: Int, type: String, subject: String, time: String, actor: String, canonical: String,
            leafHash: String, proof: [String]?
        ) {
            self.index = index
            self.type = type
            self.subject = subject
            self.time = time
            self.actor = actor
            self.canonical = canonical
            self.leafHash = leafHash
            self.proof = proof ?? []
            proofCount = proof?.count ?? 0
            proofJSON = "[" + (proof ?? []).map { "\"\($0)\"" }.joined(separator: ",") + "]"
            inCheckpoint = proof != nil
        }
    }

    public var note: String
    public var treeSize: Int
    public var root: String
    public var verifierKey: String
    /// What checking the checkpoint's signature with the verifier key found.
    public var signature: String
    public var signatureValid: Bool
    /// The index asked for, as typed.
    public var index: String
    public var event: Event?

    public init(
        note: String, treeSize: Int, root: String, verifierKey: String, signatureValid: Bool, index: String,
        event: Event?
    ) {
        self.note = note
        self.treeSize = treeSize
        self.root = root
        self.verifierKey = verifierKey
        self.signatureValid = signatureValid
        signature =
            signatureValid
            ? "valid: signed by the ledger key below" : "INVALID: the note does not verify with the ledger key"
        self.index = index
        self.event = event
    }
}
