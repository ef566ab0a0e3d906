import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFTemplates

/// `uaef bench templates`: what making a workflow from a template costs. For each built-in
/// template, N times: fill in its parameters and write the workflow's YAML (`instantiate`), beside
/// validating that workflow as registering it does (the reference: the work a template adds to is
/// this); then N workflows made and registered (`uaef templates use --register`) on a fresh SQLite
/// file, beside this machine's fsync'd SQLite commit.
enum TemplateBench {
    /// The goals: filling in a template costs less than validating what it makes, and making and
    /// registering a workflow takes under 50 ms at p99.
    static let goalRatio = 1.0
    static let goalRegisterSeconds = 0.050

    static func run(uses: Int, json: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uaef-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try await EngineOptions.parse([
            "--store", "sqlite:" + directory.appendingPathComponent("bench.db").path,
        ])
        .engine()
        // Agents of every capability the templates ask for by default, as a tenant using them has.
        let capabilities = TemplateCatalog.builtIn.templates.flatMap(\.parameters)
            .filter { $0.name.hasSuffix("_capability") }.compactMap { $0.defaultValue?.stringValue }
        _ = try await AgentRegistry(store: engine.store, kinds: engine.kinds, tenant: engine.tenant).register(
            [AgentSpec(name: "bench", kind: "echo", capabilities: Array(Set(capabilities)).sorted(), activate: true)],
            actor: "bench")
        var rows: [(name: String, fill: Double, validate: Double)] = []
        for template in TemplateCatalog.builtIn.templates {
            var fills: [Double] = []
            var validations: [Double] = []
            for _ in 0..<uses {
                let started = ContinuousClock.now
                let instance = try template.instantiate(values: [:], place: "bench")
                let filled = ContinuousClock.now
                _ = try await engine.validate(instance.source, file: "bench", anyCapability: true)
                fills.append((filled - started).timeInterval)
                validations.append((ContinuousClock.now - filled).timeInterval)
            }
            rows.append((template.name, LambdaBench.median(fills), LambdaBench.median(validations)))
        }
        // Made and registered as `uaef templates use --register` does, each under a new name.
        guard let template = TemplateCatalog.builtIn.template(named: "invoice-approval") else {
            throw CLIError.operational("the built-in invoice-approval template is missing")
        }
        var registrations: [Double] = []
        for index in 0..<uses {
            let started = ContinuousClock.now
            let instance = try template.instantiate(named: "invoices-\(index)", values: [:], place: "bench")
            _ = try await engine.register(
                instance.source, origin: "bench", actor: "bench", template: instance.provenance)
            registrations.append((ContinuousClock.now - started).timeInterval)
        }
        let reference = try BenchReference.measure()
        let registerP50 = LambdaBench.median(registrations)
        let registerP99 = LambdaBench.percentile(registrations, 0.99)
        let worstRatio = rows.map { $0.fill / max($0.validate, 1e-9) }.max() ?? 0
        if json {
            return Console.printJSON([
                "workload": "templates", "uses": .number(Number(uses)),
                "templates": .array(
                    rows.map { row in
                        [
                            "name": .string(row.name), "fill_p50_ms": BenchReference.number(row.fill * 1000, digits: 3),
                            "validate_p50_ms": BenchReference.number(row.validate * 1000, digits: 3),
                            "fill_to_validate": BenchReference.number(row.fill / max(row.validate, 1e-9), digits: 2),
                        ]
                    }),
                "register_p50_ms": BenchReference.number(registerP50 * 1000, digits: 2),
                "register_p99_ms": BenchReference.number(registerP99 * 1000, digits: 2),
                "register_p50_in_sqlite_commits": BenchReference.number(
                    registerP50 / reference.commitSeconds, digits: 1),
                "goal_fill_to_validate": BenchReference.number(goalRatio, digits: 1),
                "goal_register_p99_ms": BenchReference.number(goalRegisterSeconds * 1000, digits: 0),
                "reference": reference.json,
            ])
        }
        func ms(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }
        print("templates: each built-in template filled in \(uses) times (median), beside validating what it makes")
        for row in rows {
            print(
                "  \(Console.padded(row.name, 24))  fill \(ms(row.fill))  validate \(ms(row.validate))  ratio \(String(format: "%.2f", row.fill / max(row.validate, 1e-9)))"
            )
        }
        print(
            """
            worst ratio \(String(format: "%.2f", worstRatio)) (goal: under \(String(format: "%.0f", goalRatio)), filling in costs less than validating)
            made and registered (\(uses) workflows): p50 \(ms(registerP50)), p99 \(ms(registerP99)) \
            (goal: p99 under \(String(format: "%.0f", goalRegisterSeconds * 1000)) ms) = \
            \(String(format: "%.1f", registerP50 / reference.commitSeconds)) SQLite commits at p50
            \(reference.text)
            """)
    }
}
