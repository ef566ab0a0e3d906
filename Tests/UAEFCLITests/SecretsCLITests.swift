import Foundation
import Testing
import UAEFCore
import UAEFLedger
import UAEFTestSupport

@Suite("Secrets: sealed at rest, opened only inside the attempt")
struct SecretsCLITests {
    @Test(
        "a program that prints its secret or fails saying it leaves [secret NAME] in the output and the error, never the value; it never inherits UAEF_MASTER_KEY"
    )
    func secretsNeverComeBack() throws {
        let directory = try TemporaryDirectory("secret-echo")
        defer { directory.remove() }
        let value = "sk-live-echoed-back-9d1e"
        let masterKey = Data((0..<32).map { UInt8($0 ^ 0x5a) }).base64EncodedString()
        try Data(value.utf8).write(to: directory.url.appendingPathComponent("value"))
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        let environment = ["UAEF_MASTER_KEY": masterKey]
        let set = try UAEFProcess.run(
            ["secrets", "set", "api-token", "--value-file", "value"] + store, in: directory.url,
            environment: environment)
        #expect(set.status == 0, "\(set.stderr)")
        let workflow = """
            name: leak
            tasks:
              - id: says
                agent: command
                with:
                  command: ["sh", "-c", "echo \\"token=$TOKEN key=${UAEF_MASTER_KEY:-none}\\""]
                  env: {TOKEN: {$secret: api-token}}
              - id: fails
                agent: command
                with:
                  command: ["sh", "-c", "echo \\"bad token $TOKEN\\" >&2; exit 3"]
                  env: {TOKEN: {$secret: api-token}}
            """
        try Data(workflow.utf8).write(to: directory.url.appendingPathComponent("leak.yaml"))
        let run = try UAEFProcess.run(
            ["run", "leak.yaml", "--json"] + store, in: directory.url, environment: environment)
        let tasks = try run.json()["tasks"]
        #expect(
            tasks?["says"]?["output"]?["stdout"]?.stringValue == "token=[secret api-token] key=none\n", "\(run.stdout)")
        #expect(tasks?["fails"]?["error"]?.stringValue?.contains("bad token [secret api-token]") == true)
        let export = try UAEFProcess.run(["ledger", "export"] + store, in: directory.url)
        for text in [run.stdout, run.stderr, export.stdout] {
            #expect(!text.contains(value) && !text.contains(masterKey))
        }
    }

    @Test(
        "a command task gets the secret it names; the store file, the events and the export never hold the value; without the key or with another it fails clearly"
    )
    func secretsReachOnlyTheAttempt() throws {
        let directory = try TemporaryDirectory("secrets")
        defer { directory.remove() }
        let value = "sk-live-4f9c2e71b8d04a6f"
        try Data(value.utf8).write(to: directory.url.appendingPathComponent("value"))
        try Data(Data((0..<32).map { UInt8($0) }).base64EncodedString().utf8).write(
            to: directory.url.appendingPathComponent("master.key"))
        try Data(Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString().utf8).write(
            to: directory.url.appendingPathComponent("other.key"))
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        let set = try UAEFProcess.run(
            ["secrets", "set", "api-token", "--value-file", "value", "--master-key-file", "master.key", "--json"]
                + store, in: directory.url)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(!set.stdout.contains(value))
        let workflow = """
            name: call
            tasks:
              - id: use
                agent: command
                with:
                  command: ["sh", "-c", "printf %s \\"$TOKEN\\" | sha256sum | cut -c1-64"]
                  env: {TOKEN: {$secret: api-token}}
            """
        try Data(workflow.utf8).write(to: directory.url.appendingPathComponent("call.yaml"))

        let run = try UAEFProcess.run(
            ["run", "call.yaml", "--json", "--master-key-file", "master.key"] + store, in: directory.url)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        // The command saw exactly the value: its digest, computed here, is what it printed.
        #expect(
            try run.json()["tasks"]?["use"]?["output"]?["stdout"]?.stringValue?.hasPrefix(
                ContentDigest.sha256(Array(value.utf8))) == true, "\(run.stdout)")

        let export = try UAEFProcess.run(["ledger", "export"] + store, in: directory.url)
        #expect(export.stdout.contains("$secret") && export.stdout.contains("secret.set"))
        #expect(!export.stdout.contains(value))
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.url.path) where file.hasPrefix("u.db")
        {
            let bytes = try Data(contentsOf: directory.url.appendingPathComponent(file))
            #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file) holds the secret in plain text")
        }
        let list = try UAEFProcess.run(["secrets", "list", "--json"] + store, in: directory.url)
        #expect(try list.json().arrayValue?.first?["name"] == "api-token")
        #expect(!list.stdout.contains(value))

        let keyless = try UAEFProcess.run(["run", "call.yaml", "--json"] + store, in: directory.url)
        #expect(keyless.status == 1)
        #expect(try keyless.json()["tasks"]?["use"]?["error"]?.stringValue?.contains("no master key") == true)
        let wrongKey = try UAEFProcess.run(
            ["run", "call.yaml", "--json", "--master-key-file", "other.key"] + store, in: directory.url)
        #expect(try wrongKey.json()["tasks"]?["use"]?["error"]?.stringValue?.contains("does not open") == true)
        let unkeyedSet = try UAEFProcess.run(
            ["secrets", "set", "x", "--value-file", "value"] + store, in: directory.url)
        #expect(unkeyedSet.status == 2 && unkeyedSet.stderr.contains("no master key"))

        // Rotation: afterwards the secret opens with the new key only.
        let rotate = try UAEFProcess.run(
            ["secrets", "rotate", "--master-key-file", "master.key", "--new-master-key-file", "other.key", "--json"]
                + store, in: directory.url)
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(try rotate.json()["resealed"] == 1)
        let rotated = try UAEFProcess.run(
            ["run", "call.yaml", "--json", "--master-key-file", "other.key"] + store, in: directory.url)
        #expect(rotated.status == 0, "\(rotated.stdout) \(rotated.stderr)")
        let oldKey = try UAEFProcess.run(
            ["run", "call.yaml", "--json", "--master-key-file", "master.key"] + store, in: directory.url)
        #expect(try oldKey.json()["tasks"]?["use"]?["error"]?.stringValue?.contains("does not open") == true)
        let badNewKey = try UAEFProcess.run(
            ["secrets", "rotate", "--master-key-file", "other.key", "--new-master-key-file", "value"] + store,
            in: directory.url)
        #expect(
            badNewKey.status == 2 && badNewKey.stderr.contains("--new-master-key-file value"), "\(badNewKey.stderr)")
    }
}
