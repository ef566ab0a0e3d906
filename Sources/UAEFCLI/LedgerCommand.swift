import ArgumentParser
import Foundation
import UAEFCore
import UAEFLedger
import UAEFStore

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The trust ledger: every event is a leaf of an RFC 6962 Merkle tree with signed C2SP checkpoints.",
        subcommands: [
            Verify.self, Export.self, Checkpoint_.self, Key.self, Prove.self, Consistency.self, VerifyProof.self,
            Report.self, Redact.self,
        ])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every leaf from its stored event, every tree head and every checkpoint signature.",
            discussion: "Exit 0 when intact; 1 naming the first bad index and what is wrong.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.open()
            let report = try await LedgerVerifier(
                store: store, verifier: try await LedgerKeys.verifier(storeOptions, store: store)
            )
            .verify()
            if json {
                var value: [String: JSONValue] = [
                    "intact": .bool(report.problem == nil), "events": .number(Number(report.events)),
                    "tree_heads": .number(Number(report.treeHeads)), "checkpoints": .number(Number(report.checkpoints)),
                    "payloads": .number(Number(report.payloads)),
                    "redacted_payloads": .number(Number(report.redactedPayloads)),
                ]
                if let problem = report.problem {
                    value["problem"] = [
                        "index": .number(Number(problem.index)), "kind": .string(problem.kind.rawValue),
                        "detail": .string(problem.detail),
                    ]
                }
                Console.printJSON(.object(value))
            } else if let problem = report.problem {
                print("ledger NOT intact: \(problem)")
            } else {
                print(
                    "ledger intact: \(report.events) events, \(report.treeHeads) tree heads, \(report.checkpoints) checkpoints, \(report.payloads) payloads (\(report.redactedPayloads) redacted)"
                )
            }
            if report.problem != nil { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Export events as JSON Lines: {\"index\", \"leaf_hash\", \"event\", \"payloads\"}, event being exactly the object hashed (RFC 8785).",
            discussion: """
                payloads holds the event's task inputs or outputs that were not redacted; the event's data \
                carries "<name>_sha256", the SHA-256 of each payload's RFC 8785 bytes.
                """)
        @Option(help: "The first index.") var from: Int = 0
        @Option(help: "The last index (inclusive).") var to: Int?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.open()
            var next = Int64(max(0, from))
            while true {
                let page = try await store.ledgerEvents(from: next, limit: 10_000)
                guard !page.isEmpty else { return }
                for (record, _) in page {
                    if let to, record.seq > to { return }
                    print(LedgerDocuments.exportLine(record))
                }
                next = page.last!.record.seq + 1
            }
        }
    }

    // Named with a trailing underscore to keep clear of UAEFLedger.Checkpoint.
    struct Checkpoint_: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Print the newest signed checkpoint, signing one first if the tree grew.",
            discussion: "A new checkpoint is signed only after checking it is consistent with the previous one.")
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.open()
            let signer = try await LedgerKeys.signer(storeOptions, store: store)
            do {
                print(try await Checkpointer(store: store, signer: signer).checkpoint(), terminator: "")
            } catch let refusal as Checkpointer.Refusal {
                throw CLIError.operational("refusing to sign: \(refusal); run uaef ledger verify")
            }
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the verifier key: <name>+<8 hex key ID>+<base64(0x01 ‖ Ed25519 public key)>.")
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            print(
                try await LedgerKeys.signer(storeOptions, store: try await storeOptions.open()).verifier.text)
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An inclusion proof: {\"index\", \"tree_size\", \"leaf_hash\", \"root\", \"proof\"}.")
        @Option(help: "The event index (its seq).") var index: Int
        @Option(help: "The tree size (default: the current size).") var size: Int?
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            do {
                Console.printJSON(
                    try await LedgerDocuments.inclusion(index: index, size: size, store: try await storeOptions.open()))
            } catch let error as LedgerDocuments.OutOfRange {
                throw CLIError.usage("--index --size: \(error)")
            }
        }
    }

    struct Consistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A consistency proof: {\"size1\", \"size2\", \"root1\", \"root2\", \"proof\"}.")
        @Option(help: "The older tree size.") var from: Int
        @Option(help: "The newer tree size.") var to: Int
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            do {
                Console.printJSON(
                    try await LedgerDocuments.consistency(from: from, to: to, store: try await storeOptions.open()))
            } catch let error as LedgerDocuments.OutOfRange {
                throw CLIError.usage("--from --to: \(error)")
            }
        }
    }

    struct VerifyProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-proof",
            abstract: "Check a proof you were handed against a signed checkpoint and a verifier key, offline.",
            discussion: """
                FILE is the JSON of `uaef ledger prove` (inclusion) or `uaef ledger consistency`. The
                checkpoint must be signed by the key, and the proof's tree size and root must be the
                checkpoint's. Exit 0 when the proof holds, 1 when it does not, 2 for unreadable input.
                """)
        @Argument(help: "The proof JSON file.") var file: String
        @Option(help: "The signed checkpoint file.") var checkpoint: String
        @Option(help: "The verifier key text (<name>+<key ID>+<base64 key>).") var key: String

        func run() async throws {
            let verifier: NoteVerifier
            let proof: JSONValue
            do {
                verifier = try NoteVerifier(parsing: key)
                proof = try JSONValue(jsonText: try Console.readFile(file))
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError.usage("\(error)")
            }
            let signed: UAEFLedger.Checkpoint
            do {
                signed = try UAEFLedger.Checkpoint.open(try Console.readFile(checkpoint), verifier: verifier)
            } catch let error as NoteError {
                print("proof NOT verified: checkpoint \(checkpoint): \(error)")
                throw ExitCode(1)
            }
            let hashes = proof["proof"]?.arrayValue?.compactMap { $0.stringValue.flatMap(MerkleHash.init(base64:)) }
            guard let hashes, hashes.count == proof["proof"]?.arrayValue?.count else {
                throw CLIError.usage("\(file): \"proof\" must be a list of base64 32-byte hashes")
            }
            do {
                if let index = proof["index"]?.numberValue?.intValue,
                    let size = proof["tree_size"]?.numberValue?.intValue,
                    let leaf = proof["leaf_hash"]?.stringValue.flatMap(MerkleHash.init(base64:))
                {
                    guard size == signed.size else { throw ProofFailure.invalidSizes(size, signed.size) }
                    try ProofVerifier.verifyInclusion(
                        leaf: leaf, index: index, size: size, proof: hashes, root: signed.root)
                    print("proof verified: event \(index) is in the tree of \(size) events signed by \(verifier.name)")
                } else if let size1 = proof["size1"]?.numberValue?.intValue,
                    let size2 = proof["size2"]?.numberValue?.intValue,
                    let root1 = proof["root1"]?.stringValue.flatMap(MerkleHash.init(base64:))
                {
                    guard size2 == signed.size else { throw ProofFailure.invalidSizes(size2, signed.size) }
                    try ProofVerifier.verifyConsistency(
                        oldSize: size1, newSize: size2, oldRoot: root1, newRoot: signed.root, proof: hashes)
                    print(
                        "proof verified: the tree of \(size1) events is a prefix of the \(size2) signed by \(verifier.name)"
                    )
                } else {
                    throw CLIError.usage(
                        "\(file): neither an inclusion proof (index, tree_size, leaf_hash) nor a consistency proof (size1, size2, root1)"
                    )
                }
            } catch let failure as ProofFailure {
                print("proof NOT verified: \(failure)")
                throw ExitCode(1)
            }
        }
    }

    struct Report: AsyncParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable { case md, json, csv }

        static let configuration = CommandConfiguration(
            abstract:
                "The compliance report of a run or a settlement: its events with who, what, when, digests and inclusion proofs.",
            discussion: """
                A settlement's report covers the work that led to it (its run's events up to the triggering \
                event, or the signal), the trigger, and the settlement's own events through its posting. Signs a \
                checkpoint first if the tree grew. The JSON form carries each event object and its proof.
                """)
        @Option(help: "The run id.") var run: String?
        @Option(help: "The settlement id.") var settlement: String?
        @Option(help: "md, json or csv.") var format: Format = .md
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            guard (run == nil) != (settlement == nil) else { throw ValidationError("give --run or --settlement") }
        }

        func run() async throws {
            let store = try await storeOptions.open()
            let found =
                if let run {
                    try await LedgerReport.subject(run: RunID(run), tenant: storeOptions.tenant, store: store)
                } else {
                    try await LedgerReport.subject(
                        settlement: settlement ?? "", tenant: storeOptions.tenant, store: store)
                }
            guard let subject = found else {
                throw CLIError.usage(
                    "no \(run.map { "run \($0)" } ?? "settlement \(settlement ?? "")") in tenant \(storeOptions.tenant)"
                )
            }
            let signer = try await LedgerKeys.signer(storeOptions, store: store)
            let report = try await LedgerReport.build(subject, store: store, signer: signer)
            switch format {
            case .json: Console.printJSON(report.json)
            case .csv: print(report.csv, terminator: "")
            case .md: print(report.markdown, terminator: "")
            }
        }
    }
}
