import ArgumentParser
import Foundation
import Logging
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

/// `uaef bench sqs`: the SQS consumer on a real queue (`benchmarks/sqs.sh` starts moto and
/// measures a plain boto3 receive/delete loop on the same server beside it). The queue is filled
/// with `messages` messages (not timed), then one consumer takes them: each durably starts a run
/// (created, not executed: the executor is not part of this figure) and is deleted once that
/// is committed. Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
enum SQSBench {
    static func run(messages: Int, queueURL: String, region: String, json: Bool) async throws {
        guard let credentials = AWSCredentials.environment() else {
            throw CLIError.usage("uaef bench sqs needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        let folder = try BenchFolder()
        defer { folder.remove() }
        let engine = try await folder.engine()
        _ = try await engine.register(
            "name: bench-intake\ninputs: {message: {}}\ntasks:\n  - id: take\n    agent: noop\n", origin: "bench",
            actor: "bench")
        let settings: [String: JSONValue] = [
            "queue_url": .string(queueURL), "region": .string(region), "wait_time": "1s",
        ]
        let access = ConnectorAccess(policy: .unrestricted, ambientAWSCredentials: credentials)
        let client = try SQSClient(settings: settings, access: access)
        var logger = Logger(label: "uaef-bench")
        logger.logLevel = .critical
        for start in stride(from: 0, to: messages, by: SQSClient.maximumBatch) {
            _ = try await client.sendBatch(
                (start..<min(start + SQSClient.maximumBatch, messages)).map {
                    SQSClient.OutgoingMessage(body: #"{"n": \#($0)}"#)
                }, logger: logger)
        }
        let consumer = MessageConsumer(
            tenant: engine.tenant, connector: "bench-sqs", source: "sqs",
            queue: SQSQueue(client: client, settings: settings),
            routes: { TriggerRoutes(connector: .run(workflow: "bench-intake", input: "message"), workflows: []) },
            dispatch: TriggerDispatch(execute: { _, _ in }, signalled: { _ in }), engine: engine)
        let start = ContinuousClock.now
        let task = Task { await consumer.run(logger: logger) }
        defer { task.cancel() }
        var created = 0
        let deadline = start + .seconds(600)
        while created < messages {
            guard ContinuousClock.now < deadline else {
                throw CLIError.operational("only \(created) of \(messages) messages were consumed in 10 minutes")
            }
            try await Task.sleep(for: .milliseconds(20))
            created = try await engine.store.statistics(now: Date()).runs.values.reduce(0, +)
        }
        let elapsed = LedgerBench.seconds(ContinuousClock.now - start)
        task.cancel()
        await task.value
        let left = try await client.attributes(logger: logger)
        let rate = Double(messages) / elapsed
        if json {
            Console.printJSON([
                "workload": "sqs", "messages": .number(Number(messages)),
                "seconds": BenchReference.number(elapsed, digits: 3), "messages_per_second": .number(Number(Int(rate))),
                "left_in_queue": .string(left["ApproximateNumberOfMessages"] ?? "?"),
            ])
        } else {
            print(
                "sqs: \(messages) messages consumed, each durably starting a run and then deleted, in \(String(format: "%.3f", elapsed)) s = \(Int(rate))/s (\(left["ApproximateNumberOfMessages"] ?? "?") left visible)"
            )
        }
    }
}
