import Foundation
import Testing
import UAEFCore

@Suite("Workflow definitions and validation")
struct WorkflowParserTests {
    let catalog = WorkflowCatalog(
        agentKinds: [
            "noop": .init(), "echo": .init(optional: ["message", "value"]),
            "sleep": .init(required: ["duration"]),
        ],
        capabilities: ["extract"])

    func parse(_ text: String) throws(ValidationFailure) -> WorkflowDefinition {
        try WorkflowParser.parse(text, file: "wf.yaml", catalog: catalog)
    }

    func issues(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("a complete definition reads every field")
    func complete() throws {
        let workflow = try parse(
            """
            name: invoice
            version: 3
            description: Process an invoice
            inputs: {amount: 1250.50, lines: [a, b]}
            timeout: 5m
            concurrency: 4
            tasks:
              - id: fetch
                agent: noop
              - id: extract
                capability: extract
                depends_on: [fetch]
                retry: {max_attempts: 3, backoff: 250ms, max_backoff: 2s, multiplier: 1.5, jitter: false}
                timeout: 10s
              - id: per_line
                agent: echo
                depends_on: [extract]
                for_each: ${{ inputs.lines }}
                with: {message: "line ${{ index }}: ${{ item }}", value: "${{ tasks.extract.output }}"}
                when: ${{ inputs.amount > 1000 }}
                trigger: all_success
            """)
        #expect(workflow.name == "invoice")
        #expect(workflow.version == 3)
        #expect(workflow.inputs["amount"] == .number(Number(parsing: "1250.5")!))
        #expect(workflow.timeout == .seconds(300))
        #expect(workflow.concurrency == 4)
        #expect(workflow.tasks.map(\.id) == ["fetch", "extract", "per_line"])
        let extract = workflow.tasks[1]
        #expect(extract.executor == .capability("extract"))
        #expect(extract.retry.maxAttempts == 3)
        #expect(extract.retry.backoff == .milliseconds(250))
        #expect(extract.retry.multiplier == Number(parsing: "1.5")!)
        #expect(extract.timeout == .seconds(10))
        #expect(workflow.tasks[2].trigger == .allSuccess)
        #expect(workflow.tasks[2].forEach != nil)
    }

    @Test("JSON files are accepted too")
    func json() throws {
        let workflow = try parse(#"{"name": "j", "tasks": [{"id": "a", "agent": "noop"}]}"#)
        #expect(workflow.tasks.count == 1)
        #expect(workflow.version == 1)
    }

    @Test(
        "each error names the file, the line, the field and what is valid",
        arguments: [
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    colour: red\n",
                "wf.yaml:5: tasks[0].colour: unknown key 'colour'; valid keys here:"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n  - id: a\n    agent: noop\n",
                "wf.yaml:5: tasks[1].id: duplicate task id \"a\""
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    depends_on: [b]\n",
                "wf.yaml:3: tasks[0].depends_on[0]: unknown task \"b\""
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    depends_on: [c]\n  - id: b\n    agent: noop\n    depends_on: [a]\n  - id: c\n    agent: noop\n    depends_on: [b]\n",
                "dependency cycle: a -> b -> c -> a"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: teleport\n",
                "wf.yaml:4: tasks[0].agent: unknown agent kind \"teleport\"; built-in kinds: echo, noop, sleep"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    capability: translate\n",
                "tasks[0].capability: no registered agent has capability \"translate\"; registered: extract"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    timeout: 10 sec\n",
                "wf.yaml:5: tasks[0].timeout: \"10 sec\" is not a duration; expected a whole number with a unit"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: echo\n    with: {message: \"${{ inputs. }}\"}\n",
                "tasks[0].with.message: invalid expression: expected a field name"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    retry: {max_attempts: zero}\n",
                "tasks[0].retry.max_attempts: expected a whole number from 1 to 1000, found \"zero\""
            ),
            ("name: x\ntasks:\n  - id: A!\n    agent: noop\n", "\"A!\" is not a valid task id; use [a-z0-9_-]+"),
            ("tasks:\n  - id: a\n    agent: noop\n", "name: required"),
            (
                "name: x\ntasks:\n  - id: a\n    agent: sleep\n",
                "tasks[0].with.duration: required by agent kind 'sleep'"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n    trigger: sometimes\n",
                "unknown trigger \"sometimes\"; valid: none_failed"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: noop\n  - id: b\n    agent: echo\n    with: {value: \"${{ tasks.a.output }}\"}\n",
                "reads tasks.a but does not depend on 'a'"
            ),
            (
                "name: x\ntasks:\n  - id: a\n    agent: echo\n    with: {value: \"${{ item }}\"}\n",
                "unknown name 'item'"
            ),
            (
                "name: x\ninputs: {n: 1}\ntasks:\n  - id: a\n    agent: echo\n    with: {value: \"${{ inputs.m }}\"}\n",
                "unknown input 'm'; declared inputs: n"
            ),
            ("name: x\ntasks: [\n", "wf.yaml:3: not valid YAML or JSON"),
            ("name: x\ntasks:\n  - id: a\n    agent: noop\n    capability: extract\n", "has both agent and capability"),
        ])
    func reportsErrors(text: String, expected: String) {
        let found = issues(text)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test("validation reports every problem at once")
    func allProblems() {
        let found = issues(
            "name: x\nversion: 0\ntasks:\n  - id: a\n    agent: nope\n  - id: b\n    agent: noop\n    timeout: soon\n")
        #expect(found.count == 3, "\(found)")
    }

    @Test(
        "a duplicate id is reported also when the first task with it is invalid otherwise; depending on it is no error")
    func duplicateOfInvalidTask() {
        let found = issues(
            "name: x\ntasks:\n  - {id: a, agent: nope}\n  - {id: b, agent: noop, depends_on: [a]}\n  - {id: a, agent: noop}\n"
        )
        #expect(found.count == 2, "\(found)")
        #expect(found.first?.contains("tasks[0].agent: unknown agent kind") == true)
        #expect(found.last?.hasSuffix(":5: tasks[2].id: duplicate task id \"a\"") == true, "\(found)")
    }

    @Test(
        "workflow names are 1 to 128 letters, digits, '_', '.' or '-': no spaces, NUL, CR or LF",
        arguments: ["a b", "x\\0", "x\\r\\ny", "", "ü"])
    func workflowNames(name: String) {
        let found = issues("name: \"\(name)\"\ntasks:\n  - {id: a, agent: noop}\n")
        #expect(found.contains { $0.contains("name:") }, "\(found)")
    }

    @Test("retry delays grow exponentially up to the cap")
    func backoff() {
        let policy = RetryPolicy(
            maxAttempts: 10, backoff: .milliseconds(100), maxBackoff: .seconds(1), multiplier: Number(2), jitter: false)
        #expect(policy.delay(afterAttempt: 1, unit: 0) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 2, unit: 0) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 4, unit: 0) == .milliseconds(800))
        #expect(policy.delay(afterAttempt: 9, unit: 0) == .seconds(1))
        var jittered = policy
        jittered.jitter = true
        #expect(jittered.delay(afterAttempt: 3, unit: 0) == .milliseconds(200))
        #expect(jittered.delay(afterAttempt: 3, unit: 0.999) < .milliseconds(400))
    }

    @Test("durations", arguments: [("250ms", 250), ("10s", 10_000), ("5m", 300_000), ("2h", 7_200_000)])
    func durations(text: String, milliseconds: Int64) {
        #expect(DurationText.parse(text)?.milliseconds == milliseconds)
        #expect(DurationText.parse(DurationText.format(.milliseconds(milliseconds))) == .milliseconds(milliseconds))
    }

    @Test("malformed durations are refused", arguments: ["", "10", "s", "1.5s", "-1s", "10 s", "1d", "99999999999h"])
    func badDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}

@Suite("YAML scalars are typed by the core schema without losing digits")
struct YAMLScalarTests {
    @Test("plain scalars become null, booleans, exact numbers or strings; quoted ones stay strings")
    func typing() throws {
        let workflow = try WorkflowParser.parse(
            """
            name: s
            inputs:
              a: 12.50
              b: "12.50"
              c: 2026-11-26
              d: ~
              e: TRUE
              f: 0.1
              g: -3e2
              h: 1-2
            tasks: [{id: t, agent: noop}]
            """, file: "s.yaml", catalog: WorkflowCatalog(agentKinds: ["noop": .init()], capabilities: nil))
        #expect(workflow.inputs["a"] == .number(Number(parsing: "12.5")!))
        #expect(workflow.inputs["b"] == "12.50")
        #expect(workflow.inputs["c"] == "2026-11-26")
        #expect(workflow.inputs["d"] == .null)
        #expect(workflow.inputs["e"] == true)
        #expect(workflow.inputs["f"] == .number(Number(parsing: "0.1")!))
        #expect(workflow.inputs["g"] == .number(Number(-300)))
        #expect(workflow.inputs["h"] == "1-2")
    }
}

@Suite("Agents files")
struct AgentFileParserTests {
    let kinds: Set<String> = ["command", "echo"]

    @Test("every agent is read with its defaults")
    func reads() throws {
        let specs = try AgentFileParser.parse(
            """
            agents:
              - name: extractor
                kind: command
                capabilities: [extract, ocr]
                config: {command: [python3, extract.py]}
                max_concurrency: 4
                activate: true
              - {name: notifier, kind: echo, capabilities: [notify]}
            """, file: "agents.yaml", kinds: kinds)
        #expect(specs.map(\.name) == ["extractor", "notifier"])
        #expect(specs[0].capabilities == ["extract", "ocr"])
        #expect(specs[0].configuration["command"] == ["python3", "extract.py"])
        #expect(specs[0].maxConcurrency == 4 && specs[0].activate)
        #expect(specs[1].maxConcurrency == 1 && !specs[1].activate)
    }

    @Test("problems are reported together with lines, and nothing is returned")
    func problems() {
        do {
            _ = try AgentFileParser.parse(
                """
                agents:
                  - {name: a, kind: teleport, capabilities: [x]}
                  - {name: b, kind: echo, capabilities: []}
                  - {name: a, kind: echo, capabilities: [y], colour: red}
                """, file: "agents.yaml", kinds: kinds)
            Issue.record("expected a validation failure")
        } catch {
            let text = error.issues.map(\.description)
            #expect(
                text.contains {
                    $0.contains("agents.yaml:2: agents[0]: unknown kind \"teleport\"; kinds: command, echo")
                }, "\(text)")
            #expect(text.contains { $0.contains("agents.yaml:3: agents[1]: needs at least one capability") }, "\(text)")
            #expect(text.contains { $0.contains("agents[2].colour: unknown key 'colour'") }, "\(text)")
        }
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test("the hand-written RFC 3339 formatter agrees with Foundation's and round-trips to the millisecond")
    func agreesWithFoundation() {
        var generator = SplitMix64(seed: 42)
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: 0...4_102_444_800_000, using: &generator)  // 1970 to 2100
            let date = Timestamp.date(milliseconds: milliseconds)
            // Foundation truncates, so give it half a millisecond of headroom against binary rounding.
            let reference = style.format(Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000))
            #expect(Timestamp.format(date) == reference)
            #expect(Timestamp.parse(Timestamp.format(date)).map(Timestamp.milliseconds) == milliseconds)
        }
        #expect(Timestamp.format(Timestamp.date(milliseconds: 1_795_691_712_808)) == "2026-11-26T11:15:12.808Z")
    }
}
