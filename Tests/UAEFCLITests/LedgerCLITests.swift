import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef ledger (real processes, a SQLite file changed behind UAEF's back)")
struct LedgerCLITests {
    /// A store with a finished demo run and a signed checkpoint, in a fresh folder.
    func prepared() throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory("ledger-cli")
        let store = "sqlite:" + directory.path("l.db")
        #expect(try UAEFProcess.run(["demo", "--store", store], in: directory.url).status == 0)
        #expect(try UAEFProcess.run(["ledger", "checkpoint", "--store", store], in: directory.url).status == 0)
        return (directory, store)
    }

    func sqlite(_ directory: TemporaryDirectory, _ statement: String) throws {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", directory.path("l.db"), statement]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test("an intact ledger verifies, and an independent Python verifier agrees with its export and checkpoint")
    func intactAndIndependentlyVerified() throws {
        let (directory, store) = try prepared()
        defer { directory.remove() }
        let verify = try UAEFProcess.run(["ledger", "verify", "--json", "--store", store], in: directory.url)
        #expect(verify.status == 0)
        #expect(try verify.json()["intact"] == true)
        // The demo signs when its run ends and after its approvals; checkpoint adds none while the tree is unchanged.
        #expect(try verify.json()["checkpoints"] == 2)
        let key = try exportForPython(directory, store)
        #expect(try runPython([directory.path("events.jsonl"), directory.path("checkpoint.txt"), key]) == 0)
        // A payload changed in the export no longer matches the digest its event carries.
        let exported = try String(contentsOfFile: directory.path("events.jsonl"), encoding: .utf8)
        let forged = exported.replacingOccurrences(
            of: #""payloads":{"inputs":"#, with: #""payloads":{"inputs":{"forged":1},"x":"#)
        #expect(forged != exported)
        try forged.write(toFile: directory.path("forged.jsonl"), atomically: true, encoding: .utf8)
        #expect(try runPython([directory.path("forged.jsonl"), directory.path("checkpoint.txt"), key]) != 0)
        // The run's compliance report checks out with the same independent verifier.
        let runs = try UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url).json()
        let runID = try #require(runs.arrayValue?.first?["run_id"]?.stringValue)
        let report = try UAEFProcess.run(
            ["ledger", "report", "--run", runID, "--format", "json", "--store", store], in: directory.url)
        #expect(report.status == 0)
        try report.stdout.write(toFile: directory.path("report.json"), atomically: true, encoding: .utf8)
        #expect(try runPython(["--report", directory.path("report.json"), key]) == 0)
        // A settlement's report: the work that led to it, its trigger and its own events through the posting.
        let settlements = try UAEFProcess.run(["settlements", "list", "--json", "--store", store], in: directory.url)
        let vendor = try #require(try settlements.json().arrayValue?.first { $0["rule"] == "book-vendor-invoice" })
        let settlementReport = try UAEFProcess.run(
            [
                "ledger", "report", "--settlement", vendor["id"]?.stringValue ?? "", "--format", "json", "--store",
                store,
            ],
            in: directory.url)
        #expect(settlementReport.status == 0, "\(settlementReport.stderr)")
        let types =
            try settlementReport.json()["events"]?.arrayValue?.compactMap { $0["event"]?["type"]?.stringValue } ?? []
        #expect(types.first == "run.created" && types.contains("task.succeeded") && types.contains("run.succeeded"))
        #expect(types.last == "settlement.posted" && types.contains("settlement.approval_recorded"))
        try settlementReport.stdout.write(toFile: directory.path("settlement.json"), atomically: true, encoding: .utf8)
        #expect(try runPython(["--report", directory.path("settlement.json"), key]) == 0)
        let neither = try UAEFProcess.run(["ledger", "report", "--store", store], in: directory.url)
        #expect(neither.status == 2)
        for format in ["md", "csv"] {
            let text = try UAEFProcess.run(
                ["ledger", "report", "--run", runID, "--format", format, "--store", store], in: directory.url)
            #expect(text.status == 0 && text.stdout.contains("run.created"))
        }
        // Proofs from the CLI carry what a verifier needs.
        let proof = try UAEFProcess.run(["ledger", "prove", "--index", "3", "--store", store], in: directory.url).json()
        #expect(proof["index"] == 3)
        #expect(proof["proof"]?.arrayValue?.isEmpty == false)
        let bad = try UAEFProcess.run(["ledger", "prove", "--index", "9999", "--store", store], in: directory.url)
        #expect(bad.status == 2)
        // An auditor checks the proof offline against the signed checkpoint and the key.
        let proofText = try UAEFProcess.run(["ledger", "prove", "--index", "3", "--store", store], in: directory.url)
            .stdout
        try proofText.write(toFile: directory.path("proof.json"), atomically: true, encoding: .utf8)
        let offline = [
            "ledger", "verify-proof", directory.path("proof.json"), "--checkpoint", directory.path("checkpoint.txt"),
            "--key", key,
        ]
        #expect(try UAEFProcess.run(offline, in: directory.url).status == 0)
        try proofText.replacingOccurrences(of: "\"index\" : 3", with: "\"index\" : 4")
            .replacingOccurrences(of: "\"index\": 3", with: "\"index\": 4")
            .write(toFile: directory.path("proof.json"), atomically: true, encoding: .utf8)
        #expect(try UAEFProcess.run(offline, in: directory.url).status == 1)
    }

    @Test(
        "tampering is detected and located",
        arguments: [
            ("UPDATE events SET data = replace(data, 'classify', 'classifx') WHERE seq = 0", "index 0: event changed"),
            ("DELETE FROM events WHERE seq = 10", "index 10: event missing, inserted or reordered"),
            ("UPDATE events SET seq = seq + 100 WHERE seq = 5", "index 5: event missing, inserted or reordered"),
            (
                "UPDATE events SET data = replace(data, 'classify', 'classifx'), leaf_hash = NULL WHERE seq = 0",
                "index 0: event changed"
            ),
            (
                "UPDATE tree_heads SET root = zeroblob(32) WHERE size = (SELECT MIN(size) FROM tree_heads)",
                "tree head mismatch"
            ),
            (
                "INSERT INTO events (seq, id, time, type, actor, tenant, subject, data, leaf_hash) SELECT seq + 1, id || 'x', time, type, actor, tenant, subject, data, leaf_hash FROM events WHERE seq = (SELECT MAX(seq) FROM events)",
                // The copied leaf hash does not match the new row's bytes.
                "event changed"
            ),
            ("UPDATE checkpoints SET note = replace(note, 'uaef.local', 'uaef.locaL')", "bad checkpoint signature"),
            (
                "UPDATE events SET payloads = CAST('output' || char(10) || '15' || char(10) || '{\"forged\":true}' AS BLOB) WHERE seq = (SELECT MIN(seq) FROM events WHERE type = 'task.succeeded')",
                "payload changed"
            ),
        ])
    func tampering(statement: String, expected: String) throws {
        let (directory, store) = try prepared()
        defer { directory.remove() }
        try sqlite(directory, statement)
        let verify = try UAEFProcess.run(["ledger", "verify", "--store", store], in: directory.url)
        #expect(verify.status == 1)
        #expect(verify.stdout.contains(expected), "\(verify.stdout)")
    }

    /// Writes events.jsonl and checkpoint.txt for docs/verify_ledger.py; returns the verifier key.
    func exportForPython(_ directory: TemporaryDirectory, _ store: String) throws -> String {
        let export = try UAEFProcess.run(["ledger", "export", "--store", store], in: directory.url)
        try export.stdout.write(toFile: directory.path("events.jsonl"), atomically: true, encoding: .utf8)
        let checkpoint = try UAEFProcess.run(["ledger", "checkpoint", "--store", store], in: directory.url)
        try checkpoint.stdout.write(toFile: directory.path("checkpoint.txt"), atomically: true, encoding: .utf8)
        return try UAEFProcess.run(["ledger", "key", "--store", store], in: directory.url).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs docs/verify_ledger.py, the verifier that shares no code with UAEF; its exit status.
    func runPython(_ arguments: [String]) throws -> Int32 {
        let python = ChildProcess()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments =
            ["python3", Fixtures.packageRoot.appendingPathComponent("docs/verify_ledger.py").path] + arguments
        python.standardOutput = FileHandle.nullDevice
        try python.run()
        python.waitUntilExit()
        return python.terminationStatus
    }

    @Test("redaction erases a run's inputs and outputs, is itself an event, and the ledger still verifies everywhere")
    func redaction() throws {
        let (directory, store) = try prepared()
        defer { directory.remove() }
        let runs = try UAEFProcess.run(["runs", "list", "--json", "--store", store], in: directory.url).json()
        let runID = try #require(runs.arrayValue?.first?["run_id"]?.stringValue)
        // Before: outputs are payloads beside their events, whose data carries only the digest.
        let before = try UAEFProcess.run(["events", "--run", runID, "--json", "--store", store], in: directory.url)
        let succeeded = try #require(
            before.stdout.split(separator: "\n").map { try JSONValue(jsonText: $0) }
                .first { $0["type"] == "task.succeeded" })
        #expect(succeeded["data"]?["output"] == nil)
        let digest = try #require(succeeded["data"]?["output_sha256"]?.stringValue)
        let output = try #require(succeeded["payloads"]?["output"])
        #expect(digest.count == 64 && output != .null)

        let redact = try UAEFProcess.run(
            ["ledger", "redact", "--run", runID, "--reason", "GDPR request 42", "--json", "--store", store],
            in: directory.url)
        #expect(redact.status == 0, "\(redact.stderr)")
        let erased = try #require(try redact.json()["erased"]?.arrayValue)
        #expect(erased.contains { $0["sha256"]?.stringValue == digest })

        // After: no payload, no output in the run's state, a payload.redacted event naming who and why.
        let after = try UAEFProcess.run(["events", "--run", runID, "--json", "--store", store], in: directory.url)
        let events = try after.stdout.split(separator: "\n").map { try JSONValue(jsonText: $0) }
        #expect(events.allSatisfy { $0["payloads"] == [:] })
        let redaction = try #require(events.last)
        #expect(redaction["type"] == "payload.redacted" && redaction["data"]?["reason"] == "GDPR request 42")
        #expect(redaction["actor"]?.stringValue?.hasPrefix("cli:") == true)
        let shown = try UAEFProcess.run(["runs", "show", runID, "--json", "--store", store], in: directory.url).json()
        #expect(shown["tasks"]?.objectValue?.values.allSatisfy { $0["output"] == .null } == true)

        let verify = try UAEFProcess.run(["ledger", "verify", "--json", "--store", store], in: directory.url).json()
        #expect(verify["intact"] == true)
        #expect(verify["payloads"] == 0 && verify["redacted_payloads"] == .number(Number(erased.count)))
        // The independent verifier agrees, and the report lists the digests of what is gone.
        let key = try exportForPython(directory, store)
        #expect(try runPython([directory.path("events.jsonl"), directory.path("checkpoint.txt"), key]) == 0)
        let report = try UAEFProcess.run(
            ["ledger", "report", "--run", runID, "--format", "csv", "--store", store], in: directory.url)
        #expect(report.stdout.contains(digest))

        // Nothing to redact for an unknown run: exit 2, nothing appended.
        let size = try UAEFProcess.run(["ledger", "verify", "--json", "--store", store], in: directory.url).json()[
            "events"]
        let unknown = try UAEFProcess.run(
            ["ledger", "redact", "--run", "run_nope", "--reason", "x", "--store", store], in: directory.url)
        #expect(unknown.status == 2 && unknown.stderr.contains("no run run_nope"))
        #expect(
            try UAEFProcess.run(["ledger", "verify", "--json", "--store", store], in: directory.url).json()["events"]
                == size)
    }
}
