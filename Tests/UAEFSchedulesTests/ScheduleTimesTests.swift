import Foundation
import Testing
import UAEFCore
import UAEFEngine
import UAEFTestSupport

@testable import UAEFSchedules

@Suite("Schedule times: cron expressions on a time zone's wall clock, and intervals")
struct ScheduleTimesTests {
    func utc(_ text: String) -> Date { Timestamp.parse(text)! }

    func cron(_ expression: String, _ zone: String = "UTC") throws -> ScheduleTimes {
        .cron(try CronExpression(parsing: expression), zone: ScheduleTimes.Zone(named: zone)!)
    }

    func upcoming(_ times: ScheduleTimes, after start: String, _ count: Int) -> [String] {
        times.upcoming(after: utc(start), count: count).map(Timestamp.format)
    }

    @Test("cron times agree with croniter's (an independent implementation) on 400 generated expressions")
    func agreesWithCroniter() async throws {
        // Each field from a small grammar: *, a value, a list, a range, a stepped range or star.
        var random = SeededRandom(seed: 20_261_205)
        func field(_ range: ClosedRange<Int>, starStep: Bool) -> String {
            let width = range.upperBound - range.lowerBound + 1
            func value() -> Int { range.lowerBound + Int(random.next() % UInt64(width)) }
            func span() -> String {
                let low = min(value(), range.upperBound - 1)
                return "\(low)-\(low + 1 + Int(random.next() % UInt64(range.upperBound - low)))"
            }
            switch random.next() % 6 {
            case 0: return "*"
            case 1: return "\(value())"
            case 2: return Set((0..<3).map { _ in value() }).sorted().map(String.init).joined(separator: ",")
            // croniter 6.0.0 reads a range whose ends are equal (15-15) as every value, Vixie cron
            // (and UAEF) as that one value (see dayFieldsAsVixie): ranges here have two ends.
            case 3: return span()
            case 4: return "\(span())/\(1 + random.next() % 5)"
            default: return starStep ? "*/\(1 + random.next() % 7)" : "*"
            }
        }
        var expressions: [String] = []
        for _ in 0..<400 {
            // croniter reads a stepped star in a day field as a restriction; Vixie cron (and UAEF)
            // as a star (see dayFieldsAsVixie), so the generator leaves that case out.
            expressions.append(
                [
                    field(0...59, starStep: true), field(0...23, starStep: true), field(1...28, starStep: false),
                    field(1...12, starStep: true), field(0...6, starStep: false),
                ].joined(separator: " "))
        }
        let start = utc("2026-12-05T10:17:30Z")
        let directory = try TemporaryDirectory("cron")
        defer { directory.remove() }
        let cases = expressions.map {
            JSONValue.object([
                "cron": .string($0), "start": .number(Number(Int(start.timeIntervalSince1970))), "count": 6,
            ]).jsonText
        }
        try cases.joined(separator: "\n").write(
            toFile: directory.path("cases.jsonl"), atomically: true, encoding: .utf8)
        let script = Fixtures.packageRoot.appendingPathComponent("Tests/Support/cron_oracle.py").path
        let (status, output) = try await ExternalProcess.run(["python3", script, directory.path("cases.jsonl")])
        try #require(status == 0, "cron_oracle.py failed: \(output)")
        let theirs = output.split(separator: "\n").map(String.init)
        try #require(theirs.count == expressions.count)
        for (expression, line) in zip(expressions, theirs) {
            let ours = try cron(expression).upcoming(after: start, count: 6).map { Int($0.timeIntervalSince1970) }
            let expected = try JSONValue(jsonText: line).arrayValue?.compactMap { $0.numberValue?.intValue }
            #expect(ours == expected, "\(expression)")
        }
    }

    @Test("both day fields restricted: either matches; a field starting with * makes both needed (Vixie cron)")
    func dayFieldsAsVixie() throws {
        // 2027-02-01 is a Monday.
        #expect(
            upcoming(try cron("0 9 1 * MON"), after: "2027-01-27T00:00:00Z", 3) == [
                "2027-02-01T09:00:00.000Z", "2027-02-08T09:00:00.000Z", "2027-02-15T09:00:00.000Z",
            ])
        // */2 starts with *, so a day must be odd and a Monday.
        #expect(
            upcoming(try cron("0 0 */2 * 1"), after: "2027-02-01T01:00:00Z", 2) == [
                "2027-02-15T00:00:00.000Z", "2027-03-01T00:00:00.000Z",
            ])
        #expect(upcoming(try cron("0 0 * * 7"), after: "2027-02-01T00:00:00Z", 1) == ["2027-02-07T00:00:00.000Z"])
        #expect(
            upcoming(try cron("0 15-15 * * *"), after: "2027-02-01T00:00:00Z", 2) == [
                "2027-02-01T15:00:00.000Z", "2027-02-02T15:00:00.000Z",
            ])
        #expect(upcoming(try cron("@monthly"), after: "2027-02-01T00:00:00Z", 1) == ["2027-03-01T00:00:00.000Z"])
        #expect(
            upcoming(try cron("0 12 * feb-mar sat"), after: "2027-01-01T00:00:00Z", 1) == ["2027-02-06T12:00:00.000Z"])
    }

    @Test("a time zone's wall clock: summer time moves the UTC instant, the local time stays")
    func wallClock() throws {
        // 09:00 in Berlin is 08:00Z in winter, 07:00Z in summer (from 2027-03-28).
        #expect(
            upcoming(try cron("0 9 * * *", "Europe/Berlin"), after: "2027-03-26T12:00:00Z", 3) == [
                "2027-03-27T08:00:00.000Z", "2027-03-28T07:00:00.000Z", "2027-03-29T07:00:00.000Z",
            ])
    }

    @Test("a time the clock skips (summer time starting) falls at the move; one it shows twice falls once")
    func daylightSavingMoves() throws {
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z). 02:30 does not exist that day.
        #expect(
            upcoming(try cron("30 2 * * *", "America/New_York"), after: "2026-03-07T00:00:00Z", 3) == [
                "2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z",
            ])
        // Every 30 minutes through the skipped hour: 01:30 EST, then the move (03:00 EDT) once.
        #expect(
            upcoming(try cron("*/30 * * * *", "America/New_York"), after: "2026-03-08T06:00:00Z", 3) == [
                "2026-03-08T06:30:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z",
            ])
        // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); 01:30 comes twice, fires once.
        #expect(
            upcoming(try cron("30 1 * * *", "America/New_York"), after: "2026-10-31T12:00:00Z", 3) == [
                "2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z", "2026-11-03T06:30:00.000Z",
            ])
        // Hourly through the repeated hour: 01:00 EDT, then 02:00 EST (the second 01:00 passes).
        #expect(
            upcoming(try cron("0 * * * *", "America/New_York"), after: "2026-11-01T04:30:00Z", 3) == [
                "2026-11-01T05:00:00.000Z", "2026-11-01T07:00:00.000Z", "2026-11-01T08:00:00.000Z",
            ])
        // Asked from inside the repeated hour (its second 01:10), the next is 02:00 EST.
        #expect(
            upcoming(try cron("*/20 * * * *", "America/New_York"), after: "2026-11-01T06:10:00Z", 1) == [
                "2026-11-01T07:00:00.000Z"
            ])
        // Lord Howe Island moves by 30 minutes: 02:00 becomes 02:30 on 2026-10-04.
        #expect(
            upcoming(try cron("15 2 * * *", "Australia/Lord_Howe"), after: "2026-10-03T12:00:00Z", 2) == [
                "2026-10-03T15:30:00.000Z", "2026-10-04T15:15:00.000Z",
            ])
    }

    @Test("every counts from the epoch, shifted by its offset, whatever the time zone")
    func intervals() {
        let quarter = ScheduleTimes.every(.seconds(900), offset: .zero)
        #expect(
            upcoming(quarter, after: "2026-12-05T10:15:00Z", 2) == [
                "2026-12-05T10:30:00.000Z", "2026-12-05T10:45:00.000Z",
            ])
        let shifted = ScheduleTimes.every(.seconds(3_600), offset: .seconds(300))
        #expect(
            upcoming(shifted, after: "2026-12-05T10:04:59Z", 2) == [
                "2026-12-05T10:05:00.000Z", "2026-12-05T11:05:00.000Z",
            ])
    }

    @Test("bad expressions are refused naming the field and what would be valid")
    func refusals() throws {
        func message(_ text: String) -> String {
            do {
                _ = try CronExpression(parsing: text)
                return "accepted"
            } catch { return error.description }
        }
        #expect(message("* * * *").contains("expected 5: minute hour day-of-month month day-of-week"))
        #expect(message("60 * * * *") == "minute field \"60\": \"60\" is out of range; valid: numbers 0-59")
        #expect(message("0 0 * JAX *").contains("valid: numbers 1-12 or names JAN-DEC"))
        #expect(message("0 5-2 * * *") == "hour field \"5-2\": range 5-2 runs backwards; write it low-high")
        #expect(message("*/0 * * * *").contains("step \"0\" must be a number from 1 to 59"))
        #expect(message("5/10 * * * *").contains("a step needs a range: write 5-59/10 or */10"))
        #expect(message("1,,2 * * * *").contains("\"\" is not a value, range or step"))
        #expect(message("@reboot").contains("is not a cron macro; valid: @annually, @daily"))
        // A well-formed expression that matches no date is refused when a schedule is read.
        #expect(throws: Never.self) { try CronExpression(parsing: "0 0 30 2 *") }
        #expect(try cron("0 0 30 2 *").next(after: utc("2026-01-01T00:00:00Z")) == nil)
    }
}
