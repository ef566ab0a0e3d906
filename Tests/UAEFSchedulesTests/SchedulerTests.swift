import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

@testable import UAEFSchedules

/// A store with the workflow `nightly` registered (inputs `region` and `as_of`) and an engine on it.
struct ScheduleFixture {
    let location: TestStore
    let store: any WorkflowStore
    let engine: Engine

    init(_ backend: StoreBackend, owner: String = "scheduler-a") async throws {
        location = try TestStore(backend)
        store = try await location.open()
        var configuration = Runner.Configuration()
        configuration.owner = owner
        engine = Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
        _ = try await engine.register(
            """
            name: nightly
            inputs: {region: eu, as_of: null}
            tasks:
              - {id: work, agent: noop}
            """, origin: "nightly.yaml", actor: "test")
    }

    /// The same store seen by another process.
    func engine(owner: String) -> Engine {
        var configuration = Runner.Configuration()
        configuration.owner = owner
        return Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
    }

    var registry: ScheduleRegistry { ScheduleRegistry(engine: engine) }

    func apply(_ schedules: String) async throws -> ScheduleRegistry.Applied {
        try await registry.apply("schedules:\n" + schedules, file: "schedules.yaml", actor: "test")
    }

    func schedule(_ name: String) async throws -> ScheduleRecord {
        try #require(try await store.schedule(named: name, tenant: "default"))
    }

    /// Moves a schedule's next slot (as if time had passed without a server).
    func setNext(_ name: String, _ slot: Date) async throws {
        var record = try await schedule(name)
        record.nextAt = slot
        try await store.saveSchedules([record], events: [])
    }

    func events(_ type: String) async throws -> [EventDraft] {
        try await store.events(from: 0, limit: 10_000).map(\.event).filter { $0.type == type }
    }

    func runs() async throws -> [RunRecord] {
        try await store.runs(tenant: "default", matching: RunFilter(), limit: 1_000)
    }

    /// Applies `hourly` (every hour, with `settings` such as `overlap: buffer_one`), fires its
    /// first slot, whose run nothing executes (it stays unfinished), and its second slot an hour
    /// later: the first slot, its run, and the scheduler that fired them.
    func fireTwoSlots(_ settings: String) async throws -> (slot: Date, first: RunRecord, scheduler: Scheduler) {
        _ = try await apply("  - {name: hourly, workflow: nightly, every: 1h, \(settings)}\n")
        let slot = try #require(try await schedule("hourly").nextAt)
        let scheduler = Scheduler(engine: engine, leased: false)
        try await scheduler.fireDue(now: slot)
        let first = try #require(try await runs().first)
        try await scheduler.fireDue(now: slot.addingTimeInterval(3_600))
        return (slot, first, scheduler)
    }

    func remove() { location.remove() }
}

@Suite("Schedules: each slot starts one run, on SQLite and PostgreSQL")
struct SchedulerTests {
    let hour = 3_600.0

    @Test(
        "a due slot starts its run with the slot's time as input, and the schedule moves to its next slot",
        arguments: StoreBackend.allCases)
    func firesDueSlot(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply(
            "  - {name: hourly, workflow: nightly, every: 1h, inputs: {region: us}, slot_input: as_of}\n")
        let created = try await fixture.schedule("hourly")
        let slot = try #require(created.nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        // Not due yet: nothing happens.
        #expect(try await scheduler.fireDue(now: slot.addingTimeInterval(-1)) == 0)
        #expect(try await scheduler.fireDue(now: slot.addingTimeInterval(2)) == 1)
        let runs = try await fixture.runs()
        try #require(runs.count == 1)
        #expect(runs[0].inputs["as_of"] == .string(Timestamp.format(slot)))
        #expect(runs[0].inputs["region"] == .string("us"))
        // Started on behalf of whoever saved the schedule: its maker for maker-checker.
        #expect(runs[0].createdBy == "test")
        let fired = try await fixture.schedule("hourly")
        #expect(fired.nextAt == slot.addingTimeInterval(hour))
        #expect(fired.lastSlot == slot)
        #expect(fired.lastRun == runs[0].id)
        let events = try await fixture.events("schedule.fired")
        #expect(events.map(\.subject) == ["schedule/hourly"])
        #expect(events.first?.data["run"] == .string(runs[0].id.rawValue))
        #expect(events.first?.data["slot"] == .string(Timestamp.format(slot)))
        // Fired: not due again until its next slot.
        #expect(try await scheduler.fireDue(now: slot.addingTimeInterval(3)) == 0)
    }

    @Test(
        "a backfill starts each past slot's run once, with the slot as input; a slot that fired keeps its run; again starts nothing",
        arguments: StoreBackend.allCases)
    func backfill(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h, slot_input: as_of}\n")
        let next = try #require(try await fixture.schedule("hourly").nextAt)
        // Six past slots: from 06:00 to 11:00 on a day long gone, the 08:00 one fired on time.
        let day = Timestamp.date(milliseconds: Timestamp.milliseconds(next) / 86_400_000 * 86_400_000 - 86_400_000 * 3)
        let slots = (6...11).map { day.addingTimeInterval(Double($0) * hour) }
        try await fixture.setNext("hourly", slots[2])
        try await Scheduler(engine: fixture.engine, leased: false).fireDue(now: slots[2].addingTimeInterval(1))
        let onTime = try #require(try await fixture.runs().first?.id)

        let backfill = try await fixture.registry.backfill(
            "hourly", from: slots[0].addingTimeInterval(-60), to: slots[5], actor: "ops", leased: false
        ) { _ in }
        #expect(backfill.slots.map(\.slot) == slots)
        #expect(backfill.slots.map(\.created) == [true, true, false, true, true, true])
        #expect(backfill.slots[2].run == onTime)
        let runs = try await fixture.runs()
        #expect(runs.count == 6)
        #expect(Set(runs.compactMap { $0.inputs["as_of"]?.stringValue }) == Set(slots.map(Timestamp.format)))
        #expect(runs.filter { $0.id != onTime }.allSatisfy { $0.createdBy == "ops" })
        // Each run it made committed with an event naming its slot.
        let events = try await fixture.events("schedule.backfilled")
        #expect(events.count == 5 && events.allSatisfy { $0.subject == "schedule/hourly" && $0.actor == "ops" })
        #expect(
            Set(events.compactMap { $0.data["run"]?.stringValue })
                == Set(runs.filter { $0.id != onTime }.map(\.id.rawValue)))

        let again = try await fixture.registry.backfill(
            "hourly", from: slots[0], to: slots[5], actor: "ops", leased: false
        ) { _ in }
        #expect(again.slots.map(\.slot) == slots, "both ends are in the range")
        #expect(again.slots.allSatisfy { !$0.created })
        #expect(try await fixture.events("schedule.backfilled").count == 5)
        let one = try await fixture.registry.backfill(
            "hourly", from: slots[3], to: slots[3], actor: "ops", leased: false
        ) { _ in }
        #expect(one.slots.map(\.slot) == [slots[3]])
        #expect(try await fixture.runs().count == 6)
        // The schedule's own slots are unchanged.
        #expect(try await fixture.schedule("hourly").nextAt == slots[2].addingTimeInterval(hour))
    }

    @Test(
        "a backfill of a range in the future, reversed, without slots or over 1000 slots is refused, starting nothing")
    func backfillRefusals() async throws {
        let fixture = try await ScheduleFixture(.sqlite)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: minutely, workflow: nightly, every: 1m}\n")
        let now = Date()
        // Between two minutes, an hour ago: no slot of an every-minute schedule.
        let minute = Timestamp.date(milliseconds: Timestamp.milliseconds(now) / 60_000 * 60_000 - 3_600_000)
        let cases: [(Date, Date, String)] = [
            (now.addingTimeInterval(-60), now.addingTimeInterval(3_600), "is in the future"),
            (now.addingTimeInterval(-60), now.addingTimeInterval(-120), "is after to"),
            (minute.addingTimeInterval(10), minute.addingTimeInterval(20), "no slot of minutely falls"),
            (now.addingTimeInterval(-2_000 * 60), now.addingTimeInterval(-60), "more than 1000 slots"),
        ]
        for (from, to, reason) in cases {
            do {
                _ = try await fixture.registry.backfill("minutely", from: from, to: to, actor: "ops", leased: false) {
                    _ in
                }
                Issue.record("\(reason): not refused")
            } catch let refusal as ScheduleRegistry.Refusal {
                #expect(refusal.description.contains(reason), "\(refusal)")
            }
        }
        await #expect(throws: ScheduleRegistry.Refusal.unknownSchedule("nope")) {
            try await fixture.registry.backfill(
                "nope", from: now.addingTimeInterval(-600), to: now, actor: "ops", leased: false
            ) { _ in }
        }
        #expect(try await fixture.runs().isEmpty)
    }

    @Test(
        "a slot fired again (its record lost in a crash) finds its run instead of starting another",
        arguments: StoreBackend.allCases)
    func slotStartsOneRun(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h, overlap: allow}\n")
        let before = try await fixture.schedule("hourly")
        let slot = try #require(before.nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        try await scheduler.fireDue(now: slot)
        // The run committed but not what the schedule recorded: as a crash between the two leaves it.
        try await fixture.store.saveSchedules([before], events: [])
        try await scheduler.fireDue(now: slot)
        #expect(try await fixture.runs().count == 1)
        let fired = try await fixture.events("schedule.fired")
        #expect(fired.map { $0.data["created"] } == [.bool(true), .bool(false)])
        #expect(Set(fired.map { $0.data["run"] }).count == 1)
    }

    @Test(
        "two processes firing the same due schedules at once start each slot's run once",
        arguments: StoreBackend.allCases)
    func twoProcesses(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply(
            (0..<20).map { "  - {name: s\($0), workflow: nightly, every: 1h, overlap: allow}\n" }.joined())
        let slot = try #require(try await fixture.schedule("s0").nextAt)
        let first = Scheduler(engine: fixture.engine, leased: false)
        let second = Scheduler(engine: fixture.engine(owner: "scheduler-b"), leased: false)
        async let a = first.fireDue(now: slot)
        async let b = second.fireDue(now: slot)
        let claimed = try await a + b
        #expect(claimed == 20)
        #expect(try await fixture.runs().count == 20)
        #expect(try await fixture.events("schedule.fired").count == 20)
    }

    @Test(
        "overlap skip: a slot that comes while the last run is unfinished starts nothing, said once for a stretch",
        arguments: StoreBackend.allCases)
    func overlapSkip(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        try await scheduler.fireDue(now: slot)
        // Nothing executes the run (no worker here), so it is still pending three slots later.
        try await scheduler.fireDue(now: slot.addingTimeInterval(3 * hour))
        let runs = try await fixture.runs()
        #expect(runs.count == 1)
        let skipped = try await fixture.events("schedule.skipped")
        try #require(skipped.count == 1)
        #expect(skipped[0].data["slots"] == 3)
        #expect(skipped[0].data["first"] == .string(Timestamp.format(slot.addingTimeInterval(hour))))
        #expect(skipped[0].data["last"] == .string(Timestamp.format(slot.addingTimeInterval(3 * hour))))
        #expect(skipped[0].data["running"] == .string(runs[0].id.rawValue))
        #expect(try await fixture.schedule("hourly").nextAt == slot.addingTimeInterval(4 * hour))
    }

    @Test(
        "overlap cancel_other: a slot that comes while the last run is unfinished cancels it and starts its own",
        arguments: StoreBackend.allCases)
    func overlapCancelOther(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h, overlap: cancel_other}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        try await scheduler.fireDue(now: slot)
        let first = try #require(try await fixture.runs().first)
        try await scheduler.fireDue(now: slot.addingTimeInterval(hour))
        let runs = try await fixture.runs()
        #expect(runs.count == 2)
        #expect(try await fixture.store.run(first.id, tenant: "default")?.status == .cancelled)
        let second = try #require(runs.first { $0.id != first.id })
        #expect(second.status == .pending)
        let cancelled = try await fixture.events("schedule.overlap_cancelled")
        #expect(cancelled.map { $0.data["cancelled"] } == [.string(first.id.rawValue)])
        #expect(cancelled.first?.data["slot"] == .string(Timestamp.format(slot.addingTimeInterval(hour))))
        let requested = try await fixture.events("run.cancel_requested")
        #expect(requested.map(\.actor) == ["schedule:hourly"])
        #expect(try await fixture.schedule("hourly").lastRun == second.id)
    }

    @Test(
        "overlap buffer_one: a slot that comes while the last run is unfinished waits for its end, then starts; slots that came while it waited start nothing",
        arguments: StoreBackend.allCases)
    func overlapBufferOne(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        // The second slot comes while the first run is unfinished: held, no run.
        let (slot, first, scheduler) = try await fixture.fireTwoSlots("overlap: buffer_one, slot_input: as_of")
        #expect(try await fixture.runs().count == 1)
        var held = try await fixture.schedule("hourly")
        #expect(held.buffered && held.nextAt == slot.addingTimeInterval(hour) && held.lastSlot == slot)
        #expect(ScheduleReport.json(held)["buffered"] == true)
        let buffered = try await fixture.events("schedule.buffered")
        #expect(buffered.map { $0.data["slot"] } == [.string(Timestamp.format(slot.addingTimeInterval(hour)))])
        #expect(buffered.first?.data["running"] == .string(first.id.rawValue))
        // Not due while the run goes on, however late: no claim, and not the scheduler's next wake.
        #expect(try await scheduler.fireDue(now: slot.addingTimeInterval(3 * hour + 1)) == 0)
        #expect(try await fixture.store.earliestScheduleSlot() == nil)

        // The run ends: the held slot starts its run, and the two slots that came meanwhile start nothing.
        _ = try await fixture.engine.cancel(first.id, actor: "test")
        #expect(try await fixture.store.earliestScheduleSlot() == slot.addingTimeInterval(hour))
        #expect(try await scheduler.fireDue(now: slot.addingTimeInterval(3 * hour + 1)) == 1)
        let runs = try await fixture.runs()
        #expect(runs.count == 2)
        let second = try #require(runs.first { $0.id != first.id })
        #expect(second.inputs["as_of"] == .string(Timestamp.format(slot.addingTimeInterval(hour))))
        held = try await fixture.schedule("hourly")
        #expect(!held.buffered && held.nextAt == slot.addingTimeInterval(4 * hour) && held.lastRun == second.id)
        let skipped = try #require(try await fixture.events("schedule.skipped").first)
        #expect(skipped.data["slots"] == 2 && skipped.data["running"] == .string(first.id.rawValue))
        #expect(skipped.data["first"] == .string(Timestamp.format(slot.addingTimeInterval(2 * hour))))
        #expect(skipped.data["last"] == .string(Timestamp.format(slot.addingTimeInterval(3 * hour))))
        #expect(try await fixture.events("schedule.buffered").count == 1, "said once")
    }

    @Test(
        "overlap buffer_one: a last run retried between the claim and the firing keeps the slot held, and what came meanwhile is counted once, when it starts",
        arguments: StoreBackend.allCases)
    func bufferOneRetriedLastRun(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        let (slot, first, scheduler) = try await fixture.fireTwoSlots("overlap: buffer_one, slot_input: as_of")
        _ = try await fixture.engine.cancel(first.id, actor: "test")
        // Claimed once the run ended; the run is retried before the claim is fired.
        let now = slot.addingTimeInterval(2 * hour + 1)
        let claimed = try await fixture.store.claimDueSchedules(
            now: now, owner: "scheduler-a", until: now.addingTimeInterval(60), limit: 10)
        try #require(claimed.count == 1)
        _ = try #require(try await fixture.engine.retry(first.id, actor: "test"))
        let firing = ScheduleFiring(engine: fixture.engine, owner: "scheduler-a", leased: false, started: { _, _ in })
        #expect(try await firing.fire(claimed[0], now: now))
        let held = try await fixture.schedule("hourly")
        #expect(held.buffered && held.nextAt == slot.addingTimeInterval(hour))
        #expect(try await fixture.events("schedule.skipped").isEmpty)
        #expect(try await fixture.events("schedule.buffered").count == 1)
        // The retried run ends: the held slot starts, and the slot that came meanwhile is skipped once.
        _ = try await fixture.engine.cancel(first.id, actor: "test")
        try await scheduler.fireDue(now: now)
        let runs = try await fixture.runs()
        #expect(runs.count == 2)
        let skipped = try await fixture.events("schedule.skipped")
        #expect(skipped.count == 1 && skipped.first?.data["slots"] == 1)
        #expect(skipped.first?.data["first"] == .string(Timestamp.format(slot.addingTimeInterval(2 * hour))))
    }

    @Test(
        "overlap buffer_one: a held slot older than the catch-up window when the run ends is missed, and the slots that came while it was held start nothing",
        arguments: StoreBackend.allCases)
    func bufferOneHeldSlotMissed(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        let (slot, first, scheduler) = try await fixture.fireTwoSlots("overlap: buffer_one, catchup_window: 90m")
        _ = try await fixture.engine.cancel(first.id, actor: "test")
        // The run ended 4 h after its slot: the held slot (+1 h) and +2 h are older than the 90-minute
        // window; +3 h and +4 h came while the slot was held.
        try await scheduler.fireDue(now: slot.addingTimeInterval(4 * hour + 1))
        #expect(try await fixture.runs().count == 1)
        let missed = try #require(try await fixture.events("schedule.missed").first)
        #expect(
            missed.data["slots"] == 2
                && missed.data["first"] == .string(Timestamp.format(slot.addingTimeInterval(hour))))
        let skipped = try #require(try await fixture.events("schedule.skipped").first)
        #expect(skipped.data["slots"] == 2 && skipped.data["running"] == .string(first.id.rawValue))
        #expect(skipped.data["first"] == .string(Timestamp.format(slot.addingTimeInterval(3 * hour))))
        let after = try await fixture.schedule("hourly")
        #expect(!after.buffered && after.nextAt == slot.addingTimeInterval(5 * hour))
        #expect(after.lastSlot == slot.addingTimeInterval(4 * hour))
    }

    @Test(
        "overlap buffer_all: every slot that comes while a run is unfinished waits, and they start one after another, each when the one before has ended",
        arguments: StoreBackend.allCases)
    func overlapBufferAll(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply(
            "  - {name: hourly, workflow: nightly, every: 1h, overlap: buffer_all, slot_input: as_of}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        try await scheduler.fireDue(now: slot)
        // Two slots pass while the first run goes on: the first of them is held, the other owed behind it.
        let later = slot.addingTimeInterval(2 * hour + 1)
        try await scheduler.fireDue(now: later)
        #expect(try await fixture.runs().count == 1)
        #expect(try await fixture.schedule("hourly").nextAt == slot.addingTimeInterval(hour))
        // A changed definition that keeps the times keeps the held slot; pausing and resuming lets it go.
        _ = try await fixture.apply(
            "  - {name: hourly, workflow: nightly, every: 1h, overlap: buffer_all, slot_input: as_of, inputs: {region: us}}\n"
        )
        #expect(try await fixture.schedule("hourly").buffered)
        var started: [String] = []
        for _ in 0..<2 {
            let last = try #require(try await fixture.schedule("hourly").lastRun)
            #expect(try await scheduler.fireDue(now: later) == 0, "held while \(last) is unfinished")
            _ = try await fixture.engine.cancel(last, actor: "test")
            #expect(try await scheduler.fireDue(now: later) == 1)
            let newest = try #require(try await fixture.schedule("hourly").lastRun)
            let run = try await fixture.store.run(newest, tenant: "default")
            started.append(run?.inputs["as_of"]?.stringValue ?? "")
        }
        #expect(started == [1, 2].map { Timestamp.format(slot.addingTimeInterval(Double($0) * hour)) })
        let buffered = try await fixture.events("schedule.buffered").map { $0.data["slot"]?.stringValue ?? "" }
        #expect(buffered == [1, 2].map { Timestamp.format(slot.addingTimeInterval(Double($0) * hour)) })
        #expect(try await fixture.events("schedule.skipped").isEmpty)
        let caughtUp = try await fixture.schedule("hourly")
        #expect(!caughtUp.buffered && caughtUp.nextAt == slot.addingTimeInterval(3 * hour))

        // Paused and resumed while a slot is held: resumed, it starts from its next slot after now.
        _ = try await scheduler.fireDue(now: slot.addingTimeInterval(3 * hour))
        #expect(try await fixture.schedule("hourly").buffered)
        _ = try await fixture.registry.pause("hourly", note: nil, actor: "test")
        let resumed = try await fixture.registry.resume("hourly", actor: "test")
        #expect(!resumed.buffered && resumed.nextAt ?? .distantPast > Date())
    }

    @Test(
        "overlap cancel_other: after an outage only the latest due slot starts; a slot that cannot start cancels nothing",
        arguments: StoreBackend.allCases)
    func cancelOtherCatchUpAndRefusal(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply(
            "  - {name: hourly, workflow: nightly, every: 1h, overlap: cancel_other, slot_input: as_of}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        let scheduler = Scheduler(engine: fixture.engine, leased: false)
        // Four slots due at once: one run, for the latest.
        try await scheduler.fireDue(now: slot.addingTimeInterval(3 * hour + 1))
        let runs = try await fixture.runs()
        #expect(runs.count == 1)
        #expect(runs.first?.inputs["as_of"] == .string(Timestamp.format(slot.addingTimeInterval(3 * hour))))
        let superseded = try #require(try await fixture.events("schedule.superseded").first)
        #expect(superseded.data["slots"] == 3)
        #expect(superseded.data["by"] == .string(Timestamp.format(slot.addingTimeInterval(3 * hour))))
        #expect(try await fixture.events("schedule.overlap_cancelled").isEmpty)

        // The workflow no longer takes the slot input: the next slot is refused, and the running
        // run is left alone.
        _ = try await fixture.engine.register(
            "name: nightly\ninputs: {region: eu}\ntasks:\n  - {id: work, agent: noop}\n", origin: "v2", actor: "test")
        try await scheduler.fireDue(now: slot.addingTimeInterval(4 * hour + 1))
        #expect(try await fixture.store.run(try #require(runs.first).id, tenant: "default")?.status == .pending)
        #expect(try await fixture.events("run.cancel_requested").isEmpty)
        #expect(try await fixture.schedule("hourly").lastError != nil)
    }

    @Test(
        "after an outage, slots older than the catch-up window are missed and the rest start (overlap allow)",
        arguments: StoreBackend.allCases)
    func catchUp(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply(
            "  - {name: hourly, workflow: nightly, every: 1h, overlap: allow, catchup_window: 3h}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        // Ten slots passed with no server; now is half an hour after the tenth.
        let now = slot.addingTimeInterval(9 * hour + 1_800)
        try await Scheduler(engine: fixture.engine, leased: false).fireDue(now: now)
        let missed = try await fixture.events("schedule.missed")
        try #require(missed.count == 1)
        // Slots 0-6 are more than three hours old; 7, 8 and 9 are within the window.
        #expect(missed[0].data["slots"] == 7)
        #expect(missed[0].data["first"] == .string(Timestamp.format(slot)))
        #expect(missed[0].data["last"] == .string(Timestamp.format(slot.addingTimeInterval(6 * hour))))
        let started = try await fixture.runs().map { $0.inputs }
        #expect(started.count == 3)
        let fired = try await fixture.events("schedule.fired").compactMap { $0.data["slot"]?.stringValue }
        #expect(fired == (7...9).map { Timestamp.format(slot.addingTimeInterval(Double($0) * hour)) })
        #expect(try await fixture.schedule("hourly").nextAt == slot.addingTimeInterval(10 * hour))
    }

    @Test(
        "a slot whose run the workflow now refuses is recorded as failed, and the schedule goes on",
        arguments: StoreBackend.allCases)
    func refusedSlot(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h, slot_input: as_of}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        // A new version of the workflow no longer declares as_of.
        _ = try await fixture.engine.register(
            "name: nightly\ninputs: {region: eu}\ntasks:\n  - {id: work, agent: noop}\n", origin: "nightly.yaml",
            actor: "test")
        try await Scheduler(engine: fixture.engine, leased: false).fireDue(now: slot)
        #expect(try await fixture.runs().isEmpty)
        let failed = try await fixture.events("schedule.failed")
        try #require(failed.count == 1)
        let error = try #require(failed[0].data["error"]?.stringValue)
        #expect(error.contains("unknown input 'as_of'"), "\(error)")
        let record = try await fixture.schedule("hourly")
        #expect(record.lastError == error)
        #expect(record.nextAt == slot.addingTimeInterval(hour))
    }

    @Test(
        "a paused schedule is not due; resumed, it starts from its next slot after now",
        arguments: StoreBackend.allCases)
    func pauseAndResume(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h}\n")
        try await fixture.setNext("hourly", Date().addingTimeInterval(-5 * hour))
        let paused = try await fixture.registry.pause("hourly", note: "ledger migration", actor: "ops")
        #expect(paused.paused && paused.note == "ledger migration")
        #expect(try await fixture.store.earliestScheduleSlot() == nil)
        #expect(try await Scheduler(engine: fixture.engine, leased: false).fireDue(now: Date()) == 0)
        let resumed = try await fixture.registry.resume("hourly", actor: "ops")
        #expect(!resumed.paused && resumed.note == nil)
        let next = try #require(resumed.nextAt)
        #expect(next > Date() && next <= Date().addingTimeInterval(hour))
        #expect(try await fixture.events("schedule.paused").first?.data["note"] == .string("ledger migration"))
        #expect(try await fixture.events("schedule.resumed").count == 1)
        await #expect(throws: ScheduleRegistry.Refusal.unknownSchedule("nope")) {
            try await fixture.registry.pause("nope", note: nil, actor: "ops")
        }
    }

    @Test(
        "a firing whose claim was taken over records nothing; a save releases claims", arguments: StoreBackend.allCases)
    func claims(_ backend: StoreBackend) async throws {
        let fixture = try await ScheduleFixture(backend)
        defer { fixture.remove() }
        _ = try await fixture.apply("  - {name: hourly, workflow: nightly, every: 1h}\n")
        let slot = try #require(try await fixture.schedule("hourly").nextAt)
        let store = fixture.store
        let claimed = try await store.claimDueSchedules(
            now: slot, owner: "a", until: slot.addingTimeInterval(60), limit: 10)
        #expect(claimed.map(\.name) == ["hourly"])
        // Held by a: b gets nothing until the claim ends.
        #expect(try await store.claimDueSchedules(now: slot, owner: "b", until: slot, limit: 10).isEmpty)
        let later = slot.addingTimeInterval(61)
        #expect(try await store.claimDueSchedules(now: later, owner: "b", until: later, limit: 10).count == 1)
        // a fires its stale claim: its slot's run commits with the schedule's record or not at all.
        let stale = ScheduleFiring(engine: fixture.engine, owner: "a", leased: false) { _, _ in }
        #expect(try await !stale.fire(claimed[0], now: later))
        #expect(try await fixture.runs().isEmpty)
        #expect(try await fixture.events("schedule.fired").isEmpty)
        var record = claimed[0]
        record.nextAt = slot.addingTimeInterval(hour)
        #expect(try await !store.recordFiring(record, owner: "a", events: []))
        #expect(try await store.recordFiring(record, owner: "b", events: []))
        #expect(try await fixture.schedule("hourly").nextAt == slot.addingTimeInterval(hour))
    }

    @Test("applying validates every schedule against the tenant's workflows and reports all problems together")
    func applyRefusals() async throws {
        let fixture = try await ScheduleFixture(.sqlite)
        defer { fixture.remove() }
        let file = """
              - {name: a, workflow: missing, every: 1h}
              - {name: b, workflow: nightly, every: 1h, inputs: {colour: red}}
              - {name: c, workflow: nightly, cron: "61 * * * *"}
              - {name: d, workflow: nightly, cron: "0 * * * *", every: 1h}
              - {name: e, workflow: nightly, every: 10s}
              - {name: f, workflow: nightly, cron: "0 9 * * *", time_zone: EST}
              - {name: g, workflow: nightly, cron: "0 0 30 2 *"}
              - {name: h, workflow: nightly, every: 1h, overlap: queue}
              - {name: i, workflow: nightly, every: 1h, inputs: {as_of: x}, slot_input: as_of}

            """
        do {
            _ = try await fixture.apply(file)
            Issue.record("accepted")
        } catch let failure as ValidationFailure {
            let messages = failure.issues.map(\.description).joined(separator: "\n")
            for expected in [
                "schedules[2].cron", "minute field \"61\"", "give cron or every, not both", "must be from 1m to",
                "\"EST\" is not an IANA time zone name", "matches no date in the next nine years",
                "\"queue\" is not an overlap policy; valid: skip, allow, cancel_other, buffer_one, buffer_all",
                "leave it out of inputs",
            ] {
                #expect(messages.contains(expected), "\(expected) not in:\n\(messages)")
            }
        }
        // Each workflow problem alone (the file's own problems come first).
        do {
            _ = try await fixture.apply(
                "  - {name: a, workflow: missing, every: 1h}\n  - {name: b, workflow: nightly, every: 1h, inputs: {colour: red}}\n"
            )
            Issue.record("accepted")
        } catch let failure as ValidationFailure {
            let messages = failure.issues.map(\.description).joined(separator: "\n")
            #expect(messages.contains("schedules[0].workflow"), "\(messages)")
            #expect(messages.contains("no workflow named 'missing'"), "\(messages)")
            #expect(messages.contains("unknown input 'colour'"), "\(messages)")
        }
        #expect(try await fixture.store.schedules(tenant: "default").isEmpty)
        #expect(try await fixture.events("schedule.saved").isEmpty)
    }

    @Test("applying the same file again changes nothing; changing only the inputs keeps the next slot")
    func reapply() async throws {
        let fixture = try await ScheduleFixture(.sqlite)
        defer { fixture.remove() }
        let file = "  - {name: daily, workflow: nightly, cron: \"0 6 * * *\", time_zone: Europe/Berlin}\n"
        #expect(try await fixture.apply(file).saved.count == 1)
        let again = try await fixture.apply(file)
        #expect(again.saved.isEmpty && again.unchanged == ["daily"])
        let moved = Timestamp.date(milliseconds: Timestamp.milliseconds(Date()) - 60_000)
        try await fixture.setNext("daily", moved)
        let changed = try await fixture.apply(
            "  - {name: daily, workflow: nightly, cron: \"0 6 * * *\", time_zone: Europe/Berlin, inputs: {region: us}}\n"
        )
        #expect(changed.saved.first?.nextAt == moved)
        #expect(changed.saved.first?.revision == 2)
        let retimed = try await fixture.apply(
            "  - {name: daily, workflow: nightly, cron: \"0 7 * * *\", time_zone: Europe/Berlin}\n")
        #expect(try #require(retimed.saved.first?.nextAt) > Date())
        #expect(try await fixture.events("schedule.saved").count == 3)
    }
}
