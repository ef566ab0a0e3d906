import Testing

@testable import UAEFCLI

/// Which run reports `uaef monitor` reads again on a refresh: it asked for every listed run's
/// report each second, though an ended run's task counts never change.
@Suite("uaef monitor: which reports a refresh reads")
struct MonitorModelTests {
    func run(_ id: String, _ status: String, finished: Int = 0, tasks: Int = 0) -> MonitorSnapshot.Run {
        MonitorSnapshot.Run(id: id, workflow: "w", status: status, finishedTasks: finished, tasks: tasks)
    }

    @Test("the first refresh reads every listed run's report")
    func firstRefreshReadsAll() {
        let listed = [run("run_a", "succeeded"), run("run_b", "running")]
        #expect(
            MonitorSnapshot.reportsToRead(listed, previous: MonitorSnapshot(), selected: "run_a") == ["run_a", "run_b"])
    }

    @Test(
        "a run already ended in the last snapshot is not read again unless selected; running and newly ended runs are")
    func endedRunsAreKept() {
        var previous = MonitorSnapshot()
        previous.runs = [
            run("run_done", "succeeded", finished: 3, tasks: 3), run("run_failed", "failed", finished: 1, tasks: 2),
            run("run_busy", "running", finished: 1, tasks: 3), run("run_shown", "cancelled"),
        ]
        let listed = [
            run("run_new", "pending"), run("run_done", "succeeded"), run("run_failed", "failed"),
            run("run_busy", "succeeded"), run("run_shown", "cancelled"),
        ]
        #expect(
            MonitorSnapshot.reportsToRead(listed, previous: previous, selected: "run_shown")
                == ["run_new", "run_busy", "run_shown"])
    }
}
