import Testing
import UAEFCore
import UAEFEngine
import UAEFLambda

/// The work queue's messages: what each asks for, and a clear reason for one that is not one.
@Suite("Work queue messages")
struct WorkMessageTests {
    @Test("run.start names the tenant, workflow, inputs and key; runs.resume the tenant")
    func parses() throws {
        let start = try WorkMessage(
            #"{"type": "run.start", "tenant": "acme", "workflow": "invoice", "inputs": {"total": 5}, "idempotency_key": "inv-42"}"#
        )
        guard case .startRun(let tenant, let request) = start else {
            Issue.record("expected a run start, got \(start)")
            return
        }
        #expect(tenant == "acme" && request.workflow == "invoice" && request.idempotencyKey == "inv-42")
        #expect(request.inputs == ["total": 5])
        let resume = try WorkMessage(#"{"type": "runs.resume", "tenant": "globex"}"#)
        guard case .resumeRuns(let resumed) = resume else {
            Issue.record("expected a resume, got \(resume)")
            return
        }
        #expect(resumed == "globex")
    }

    @Test("attempts.execute names the tenant and the capabilities (none: any); deliveries.send the tenant")
    func workerMessages() throws {
        let gpu = try WorkMessage(#"{"type": "attempts.execute", "tenant": "acme", "capabilities": ["gpu", "ocr"]}"#)
        guard case .executeAttempts("acme", ["gpu", "ocr"]) = gpu else {
            Issue.record("expected the gpu and ocr attempts, got \(gpu)")
            return
        }
        let any = try WorkMessage(#"{"type": "attempts.execute", "tenant": "acme"}"#)
        guard case .executeAttempts("acme", nil) = any else {
            Issue.record("expected any capability's attempts, got \(any)")
            return
        }
        let run = try WorkMessage(#"{"type": "run.execute", "tenant": "acme", "run_id": "run_01ABC"}"#)
        guard case .executeRun("acme", RunID("run_01ABC")) = run else {
            Issue.record("expected run_01ABC, got \(run)")
            return
        }
        let send = try WorkMessage(#"{"type": "deliveries.send", "tenant": "globex"}"#)
        guard case .sendDeliveries("globex") = send else {
            Issue.record("expected the deliveries of globex, got \(send)")
            return
        }
    }

    @Test("a message that is not one names what is wrong")
    func refused() {
        for (body, expected) in [
            ("Message Body", "not a JSON object"),
            (#"{"type": "run.start", "workflow": "w"}"#, "tenant"),
            (#"{"type": "run.start", "tenant": "acme"}"#, "workflow"),
            (#"{"type": "run.start", "tenant": "acme", "workflow": "w", "inputs": [1]}"#, "inputs"),
            (
                #"{"type": "run.start", "tenant": "acme", "workflow": "w", "idempotency_key": "child:run_1/t/1"}"#,
                "idempotency_key: keys beginning with child: are UAEF's own"
            ),
            (
                #"{"type": "run.stop", "tenant": "acme"}"#,
                "run.start, runs.resume, run.execute, attempts.execute or deliveries.send"
            ),
            (#"{"type": "run.execute", "tenant": "acme", "run_id": "evt_1"}"#, "run_id"),
            (#"{"type": "attempts.execute", "tenant": "acme", "capabilities": []}"#, "capabilities"),
            (#"{"type": "attempts.execute", "tenant": "acme", "capabilities": ["gpu", 7]}"#, "capabilities"),
            (#"{"type": "deliveries.send"}"#, "tenant"),
        ] {
            #expect {
                try WorkMessage(body)
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
    }
}
