import Foundation
import Testing
import UAEFTestSupport
import UAEFZip

/// The FBDI zip writer, the ESS log reader and the fakes' both, each checked against Python's
/// `zipfile` (an independent implementation of PKWARE's APPNOTE), the CRC-32 check value of ISO
/// 3309, and the first bytes of the archive in Oracle's `downloadESSJobExecutionDetails` example.
@Suite("ZIP archives")
struct ZipArchiveTests {
    @Test("CRC-32 of \"123456789\" is the standard check value 0xCBF43926")
    func crcCheckValue() {
        #expect(ZipArchive.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("Python's zipfile reads what ZipArchive writes, and ZipArchive reads what Python stores")
    func interoperates() async throws {
        let directory = try TemporaryDirectory("zip")
        defer { directory.remove() }
        let csv = Array("NEW,1,2026/12/01,Spreadsheet\nNEW,1,2026/12/01,\"a, quoted\"\n".utf8)
        let ours = ZipArchive.archive([
            ZipArchive.Entry(name: "GlInterface.csv", data: csv), ZipArchive.Entry(name: "empty.txt", data: []),
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
        let theirs = try ZipArchive.entries(
            of: Array(try Data(contentsOf: directory.url.appendingPathComponent("theirs.zip"))))
        #expect(theirs == [ZipArchive.Entry(name: "GlInterface.csv", data: Array("from python\n".utf8))])
        #expect(try ZipArchive.entries(of: ours).map(\.name) == ["GlInterface.csv", "empty.txt"])
    }

    @Test(
        "Python's zipfile reads our streamed deflated archives, and we read Python's, streamed to a pipe as Java does")
    func deflatedInteroperates() async throws {
        let directory = try TemporaryDirectory("zip-deflated")
        defer { directory.remove() }
        let log = Array(String(repeating: "Journal Import: 2 lines, group 42, status ERROR\n", count: 200).utf8)
        let ours = ZipArchive.archive(
            [ZipArchive.Entry(name: "14557.log", data: log), ZipArchive.Entry(name: "14558.log", data: [])],
            compression: .deflatedStreamed)
        #expect(ours.count < log.count / 4, "deflated")
        // Oracle's example DocumentContent starts "UEsDBBQACAgIA": a local header, version 20,
        // flags 0x0808 (data descriptor, UTF-8 names), method 8.
        #expect(Data(ours).base64EncodedString().hasPrefix("UEsDBBQACAgIA"))
        try Data(ours).write(to: directory.url.appendingPathComponent("ours.zip"))
        let (status, output) = try await ExternalProcess.run(
            [
                "python3", "-c",
                """
                import io, sys, zipfile
                with zipfile.ZipFile(sys.argv[1]) as z:
                    assert z.testzip() is None
                    print(z.namelist(), len(z.read('14557.log')), z.getinfo('14557.log').compress_type)
                class Pipe(io.RawIOBase):  # not seekable: zipfile then streams as ZipOutputStream does
                    def __init__(self): self.data = bytearray()
                    def writable(self): return True
                    def write(self, b): self.data += b; return len(b)
                pipe = Pipe()
                with zipfile.ZipFile(pipe, 'w', zipfile.ZIP_DEFLATED) as z:
                    z.writestr('ESS_O_14557_BIP.log', 'Oracle Enterprise Scheduler\\n' * 50)
                open(sys.argv[2], 'wb').write(pipe.data)
                """, directory.path("ours.zip"), directory.path("theirs.zip"),
            ], withErrors: true)
        #expect(status == 0, "\(output)")
        #expect(output.contains("['14557.log', '14558.log'] \(log.count) 8"), "\(output)")
        let theirs = Array(try Data(contentsOf: directory.url.appendingPathComponent("theirs.zip")))
        #expect(theirs[6] & 0x08 != 0, "Python streamed it with a data descriptor")
        #expect(
            try ZipArchive.entries(of: theirs) == [
                ZipArchive.Entry(
                    name: "ESS_O_14557_BIP.log",
                    data: Array(String(repeating: "Oracle Enterprise Scheduler\n", count: 50).utf8))
            ])
        #expect(try ZipArchive.entries(of: ours).map(\.data) == [log, []])
    }

    @Test(
        "entries that inflate beyond the limit, or beyond the size their header gives, are refused before they are kept"
    )
    func inflationLimits() throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let bomb = ZipArchive.archive([ZipArchive.Entry(name: "zeros", data: zeros)], compression: .deflatedStreamed)
        #expect(bomb.count < 5000)
        #expect(throws: ZipArchive.Failure.self) { try ZipArchive.entries(of: bomb, limit: 1 << 19) }
        #expect(try ZipArchive.entries(of: bomb, limit: 1 << 20).first?.data.count == 1 << 20)
        // The central directory says 1,000 bytes (offset 24 of its header) for a megabyte.
        var lying = bomb
        let central = lying.count - 22 - 46 - 5
        lying.replaceSubrange((central + 24)..<(central + 28), with: [0xE8, 0x03, 0, 0])
        do {
            _ = try ZipArchive.entries(of: lying)
            Issue.record("a stream larger than its header's size was read")
        } catch {
            #expect(error.description.contains("inflates to more than its header's 1000 bytes"), "\(error)")
        }
    }

    @Test("a damaged archive is a failure that says what is wrong, not a crash")
    func damaged() {
        var bytes = ZipArchive.archive([ZipArchive.Entry(name: "a.csv", data: Array("x,y\n".utf8))])
        bytes[38] ^= 0xFF
        #expect(throws: ZipArchive.Failure.self) { try ZipArchive.entries(of: bytes) }
        #expect(throws: ZipArchive.Failure.self) { try ZipArchive.entries(of: Array(bytes.prefix(30))) }
        #expect(throws: ZipArchive.Failure.self) { try ZipArchive.entries(of: []) }
    }
}
