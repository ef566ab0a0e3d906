import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// `uaef secrets`: credentials agents use, sealed under the master key.
struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Set, list and delete secrets that command and http agents name as {\"$secret\": \"NAME\"}.",
        discussion: """
            Values are sealed with AES-256-GCM under the master key (--master-key-file or UAEF_MASTER_KEY, \
            32 random bytes in base64: head -c 32 /dev/urandom | base64), which never enters the store; \
            processes that execute runs need the same key. A value is opened only in the memory of the \
            attempt that uses it: events, exports and logs keep the placeholder. Setting and deleting are \
            ledger events (secret.set, secret.deleted) that name the secret, never its value.
            """,
        subcommands: [Set_.self, List.self, Delete.self, Rotate.self])

    // Named with a trailing underscore to keep clear of Swift's Set.
    struct Set_: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Set a secret from standard input (or --value-file); never echoed.")
        @Argument(help: "The secret's name (letters, digits, _ . -).") var name: String
        @Option(help: "Read the value from this file instead of standard input.") var valueFile: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let data =
                try valueFile.map { Data(try Console.readFile($0).utf8) }
                ?? FileHandle.standardInput.readDataToEndOfFile()
            // One trailing newline (from echo or a file) is not part of the value.
            var value = String(decoding: data, as: UTF8.self)
            if value.hasSuffix("\n") { value.removeLast() }
            guard !value.isEmpty else { throw CLIError.usage("the secret's value is empty") }
            let engine = try await engineOptions.engine()
            do {
                let record = try await engine.setSecret(name, value: value, actor: CLIActor.current)
                print(json ? SecretReport.json(record).jsonText : "set \(record.name) (key \(record.keyID))")
            } catch let failure as SecretBox.Failure {
                throw CLIError.usage(failure.description)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's secrets: names, never values.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let secrets = try await storeOptions.open().secrets(tenant: storeOptions.tenant)
            if json { return Console.printJSON(.array(secrets.map(SecretReport.json))) }
            if secrets.isEmpty { print("no secrets") }
            for secret in secrets {
                print(
                    "\(secret.name)  key \(secret.keyID)  set \(Timestamp.format(secret.updatedAt)) by \(secret.updatedBy)"
                )
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every tenant's secrets under a new master key.",
            discussion: """
                Opens each secret with the current key (--master-key-file or UAEF_MASTER_KEY) and seals it \
                under the key in --new-master-key-file, all in one transaction, recording a secrets.rotated \
                event per tenant. Secrets the new key sealed already are left as they are, so an interrupted \
                rotation can simply be run again. Afterwards give every node the new key: processes still on \
                the old one cannot open the secrets. Exit 2 when a secret opens with neither key (nothing \
                changes).
                """)
        @Option(help: ArgumentHelp("A file holding the new 32-byte master key (base64).", valueName: "path"))
        var newMasterKeyFile: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let newBox: SecretBox
            do {
                newBox = try SecretBox(base64: try Console.readFile(newMasterKeyFile))
            } catch let failure as SecretBox.Failure {
                throw CLIError.usage("--new-master-key-file \(newMasterKeyFile): \(failure)")
            }
            let engine = try await engineOptions.engine()
            do {
                let rotation = try await engine.rotateSecrets(to: newBox, actor: CLIActor.current)
                if json {
                    return Console.printJSON([
                        "resealed": .number(Number(rotation.resealed)),
                        "already_new": .number(Number(rotation.alreadyNew)),
                        "from_key": .string(rotation.fromKey), "to_key": .string(rotation.toKey),
                    ])
                }
                print(
                    "re-sealed \(rotation.resealed) secret(s) from key \(rotation.fromKey) to key \(rotation.toKey)"
                        + (rotation.alreadyNew > 0 ? " (\(rotation.alreadyNew) already under it)" : "")
                        + "; give every node the new master key")
            } catch let failure as SecretBox.Failure {
                throw CLIError.usage(failure.description)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a secret.")
        @Argument(help: "The secret's name.") var name: String
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            guard try await engineOptions.engine().deleteSecret(name, actor: CLIActor.current) else {
                throw CLIError.usage("no secret \(name) in tenant \(engineOptions.storeOptions.tenant)")
            }
            print("deleted \(name)")
        }
    }
}
