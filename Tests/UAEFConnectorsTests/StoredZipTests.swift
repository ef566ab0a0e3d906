import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

/// The FBDI zip writer and the fake's reader, each checked against Python's `zipfile` (an
/// independent implementation of PKWARE's APPNOTE) and the CRC-32 check value of ISO 3309.
@Suite("Stored ZIP archives")
struct StoredZipTests {
    @Test("CRC-32 of \"123456789\" is the standard check value 0xCBF43926")
    func crcCheckValue() {
        #expect(StoredZip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("Python's zipfile reads what StoredZip writes, and StoredZip reads what Python stores")
    func interoperates() async throws {
        let directory = try TemporaryDirectory("zip")
        defer { directory.remove() }
        let csv = Array("NEW,1,2026/12/01,Spreadsheet\nNEW,1,2026/12/01,\"a, quoted\"\n".utf8)
        let ours = StoredZip.archive([
            StoredZip.Entry(name: "GlInterface.csv", data: csv), StoredZip.Entry(name: "empty.txt", data: []),
        ])
        try Data(ours).write(to: directory.url.appendingPathComponent("ours.zip"))
        let (status, output) = try await ExternalProcess.run(
            [
                "python3", "-c",
                """
                import sys, zipfile
                with zipfile.ZipFile(sys.argv[1]) as z:
                    assert z.testzip() is None
                    print(z.namelist(), len(z.read('GlInterface.csv')))
                with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_STORED) as z:
                    z.writestr('GlInterface.csv', 'from python\\n')
                """, directory.path("ours.zip"), directory.path("theirs.zip"),
            ], withErrors: true)
        #expect(status == 0, "\(output)")
        #expect(output.contains("['GlInterface.csv', 'empty.txt'] \(csv.count)"), "\(output)")
        let theirs = try StoredZip.entries(
            of: Array(try Data(contentsOf: directory.url.appendingPathComponent("theirs.zip"))))
        #expect(theirs == [StoredZip.Entry(name: "GlInterface.csv", data: Array("from python\n".utf8))])
        #expect(try StoredZip.entries(of: ours).map(\.name) == ["GlInterface.csv", "empty.txt"])
    }

    @Test("a damaged archive is a failure that says what is wrong, not a crash")
    func damaged() {
        var bytes = StoredZip.archive([StoredZip.Entry(name: "a.csv", data: Array("x,y\n".utf8))])
        bytes[38] ^= 0xFF
        #expect(throws: StoredZip.Failure.self) { try StoredZip.entries(of: bytes) }
        #expect(throws: StoredZip.Failure.self) { try StoredZip.entries(of: Array(bytes.prefix(30))) }
        #expect(throws: StoredZip.Failure.self) { try StoredZip.entries(of: []) }
    }
}
