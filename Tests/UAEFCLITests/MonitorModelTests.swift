import Testing
import UAEFCore

@testable import UAEFCLI

/// How `uaef monitor` reads a run's progress from one `GET /v1/runs?include=task_counts` page (it
/// used to ask for every unfinished run's report on each refresh).
@Suite("uaef monitor: a listed run's progress")
struct MonitorModelTests {
    @Test("a summary's task_counts give the run's ended and total tasks")
    func countsFromSummary() throws {
        let summary = try JSONValue(
            jsonText: """
                {"run_id": "run_a", "workflow": "w", "version": 1, "status": "running", "error": null,
                 "created_at": "2026-12-04T10:00:00.000Z", "ended_at": null,
                 "task_counts": {"total": 5, "ended": 3, "pending": 1, "ready": 0, "waiting": 0, "running": 1,
                                 "retry_scheduled": 0, "succeeded": 2, "failed": 0, "skipped": 1, "cancelled": 0}}
                """)
        let run = try #require(MonitorSnapshot.Run(summary: summary))
        #expect(run.id == "run_a" && run.status == "running")
        #expect(run.finishedTasks == 3 && run.tasks == 5)
    }

    @Test("a summary without task_counts reads as no tasks, and one without a run id is skipped")
    func summaryWithoutCounts() throws {
        let run = try #require(MonitorSnapshot.Run(summary: ["run_id": "run_b", "status": "pending"]))
        #expect(run.finishedTasks == 0 && run.tasks == 0)
        #expect(MonitorSnapshot.Run(summary: ["status": "pending"]) == nil)
    }
}
