import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

/// The deployment files checked offline with the tools the deployments use: the SAM template
/// through aws-sam-translator's transform and cfn-lint (Tests/Support/validate_sam.py), the
/// Dockerfile through hadolint. Each check is also shown to fail on a broken copy.
@Suite("Deployment files: SAM template and Dockerfile")
struct DeploymentFilesTests {
    static let root = Fixtures.packageRoot

    /// `validate_sam.py` on `template`; its exit status and JSON report.
    func validate(_ template: String, in directory: TemporaryDirectory) async throws -> (Int32, JSONValue) {
        let (status, output) = try await ExternalProcess.run([
            "python3", Self.root.appendingPathComponent("Tests/Support/validate_sam.py").path, template,
            directory.path(""),
        ])
        return (status, (try? JSONValue(jsonText: output)) ?? .string(output))
    }

    @Test("deploy/template.yaml transforms to CloudFormation and both lint clean; a broken copy does not")
    func samTemplate() async throws {
        let directory = try TemporaryDirectory("sam")
        defer { directory.remove() }
        let template = Self.root.appendingPathComponent("deploy/template.yaml").path
        let (status, report) = try await validate(template, in: directory)
        #expect(status == 0, "\(report)")
        #expect(report["lint"] == ["template": [], "transformed": []])
        let types = Set(report["resources"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(
            types.isSuperset(of: [
                "AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping", "AWS::ApiGatewayV2::Api",
                "AWS::Events::Rule", "AWS::SQS::Queue", "AWS::IAM::Role",
            ]))
        let transformed = try JSONValue(
            jsonText: String(contentsOfFile: directory.path("transformed.json"), encoding: .utf8))
        let mapping = transformed["Resources"]?.objectValue?.values.first {
            $0["Type"] == "AWS::Lambda::EventSourceMapping"
        }
        #expect(mapping?["Properties"]?["FunctionResponseTypes"] == ["ReportBatchItemFailures"])

        let broken = directory.path("broken.yaml")
        try String(contentsOfFile: template, encoding: .utf8).replacingOccurrences(
            of: "MemorySize: 512", with: "MemorySize: 1"
        ).write(toFile: broken, atomically: true, encoding: .utf8)
        let (brokenStatus, brokenReport) = try await validate(broken, in: directory)
        #expect(brokenStatus == 1)
        #expect(brokenReport["lint"]?["template"]?.arrayValue?.contains { $0["rule"] == "E3034" } == true)
    }

    @Test("the Dockerfile lints clean with hadolint; a Dockerfile with a known mistake does not")
    func dockerfile() async throws {
        let (status, output) = try await ExternalProcess.run([
            "hadolint", Self.root.appendingPathComponent("Dockerfile").path,
        ])
        #expect(status == 0, "\(output)")
        let directory = try TemporaryDirectory("docker")
        defer { directory.remove() }
        try "FROM ubuntu\nRUN cd /tmp && make\n".write(
            toFile: directory.path("Dockerfile"), atomically: true, encoding: .utf8)
        let (brokenStatus, brokenOutput) = try await ExternalProcess.run(["hadolint", directory.path("Dockerfile")])
        #expect(brokenStatus != 0 && brokenOutput.contains("DL3006"), "\(brokenOutput)")
    }
}
