import Testing

@testable import UAEFStoreSQLite

/// The SQLite checkpointer's decisions, driven with made-up instants.
@Suite("When the SQLite checkpointer copies the log")
struct CheckpointScheduleTests {
    typealias Copied = CheckpointSchedule.Copied
    let t0 = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0 + .milliseconds(milliseconds) }

    @Test("a commit to a quiet store asks for one wake-up a quiet delay later; commits before it ask for none")
    func quietDelay() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 5, at: at(0)) == .wake(at: at(1000)))
        #expect(schedule.committed(logPages: 9, at: at(200)) == .none)
        #expect(schedule.woke(for: at(1000), at: at(1000)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.checkpointEnded(Copied(pages: 9, of: 9), at: at(1010)) == .none, "nothing waits")
        #expect(schedule.checkpoints == 1)
    }

    @Test("a long log is copied at once, but never sooner than the minimum gap after the last checkpoint")
    func longLog() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1000, at: at(0)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.checkpointEnded(Copied(pages: 1000, of: 1000), at: at(10)) == .none)
        // The log started over and is long again at once.
        #expect(schedule.committed(logPages: 1200, at: at(20)) == .wake(at: at(60)))
        #expect(schedule.woke(for: at(60), at: at(60)) == .checkpoint)
    }

    @Test("a commit during a checkpoint waits for its end, then for the quiet delay from that commit")
    func commitDuringCheckpoint() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1, at: at(0)) == .wake(at: at(1000)))
        #expect(schedule.woke(for: at(1000), at: at(1000)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.committed(logPages: 2, at: at(1100)) == .none, "one checkpoint at a time")
        #expect(schedule.checkpointEnded(Copied(pages: 1, of: 1), at: at(1200)) == .wake(at: at(2100)))
    }

    @Test(
        "what a checkpoint could not copy is tried again after the quiet delay, and the pages it copied do not make the log long"
    )
    func partialCheckpoint() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1500, at: at(0)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.checkpointEnded(Copied(pages: 600, of: 1500), at: at(10)) == .wake(at: at(1010)))
        // 1,550 pages, 950 of them not yet copied: short.
        #expect(schedule.committed(logPages: 1550, at: at(100)) == .none)
        // 1,050 not yet copied: long.
        #expect(schedule.committed(logPages: 1650, at: at(200)) == .checkpoint)
    }

    @Test("an earlier wake-up replaces a later one, which then does nothing")
    func staleWakeUp() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1000, at: at(0)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.checkpointEnded(Copied(pages: 1000, of: 1000), at: at(0)) == .none)
        #expect(schedule.committed(logPages: 3, at: at(10)) == .wake(at: at(1010)))
        #expect(schedule.committed(logPages: 1003, at: at(20)) == .wake(at: at(50)))
        #expect(schedule.woke(for: at(50), at: at(50)) == .checkpoint)
        #expect(schedule.woke(for: at(1010), at: at(1010)) == .none)
    }

    @Test("a failed checkpoint is not counted, and what waits is tried again after the quiet delay")
    func failedCheckpoint() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1, at: at(0)) == .wake(at: at(1000)))
        #expect(schedule.woke(for: at(1000), at: at(1000)) == .checkpoint)
        schedule.checkpointBegan()
        #expect(schedule.checkpointEnded(nil, at: at(1005)) == .wake(at: at(2005)))
        #expect(schedule.checkpoints == 0)
    }

    @Test("a wake-up that comes early asks again for the instant due")
    func earlyWakeUp() {
        var schedule = CheckpointSchedule()
        #expect(schedule.committed(logPages: 1, at: at(0)) == .wake(at: at(1000)))
        #expect(schedule.woke(for: at(1000), at: at(999)) == .wake(at: at(1000)))
    }
}
