// swift-tools-version:6.1
import PackageDescription

/// One settings block for every target (Swift 6 language mode comes from the tools version).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "uaef",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "uaef", targets: ["uaef"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter's dependencies are not built.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        .target(
            name: "UAEFCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(name: "CUAEFSHA256"),
        // The system zlib (already linked by Foundation), for reading an ERP's compressed ZIPs.
        .target(name: "CUAEFZlib", linkerSettings: [.linkedLibrary("z")]),
        // ZIP archives: an ERP's file-based imports and the logs its jobs leave.
        .target(name: "UAEFZip", dependencies: ["CUAEFZlib"]),
        // Link-time replacements for scripts/package-lambda, so the package runs on provided.al2023.
        .target(name: "CUAEFGlibcCompat", linkerSettings: [.linkedLibrary("m")]),
        .target(
            name: "UAEFLedger",
            dependencies: ["UAEFCore", "CUAEFSHA256", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "UAEFStore",
            dependencies: ["UAEFCore", "UAEFLedger"]
        ),
        .target(
            name: "UAEFStoreSQLite",
            dependencies: [
                "UAEFStore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "UAEFStorePostgres",
            dependencies: [
                "UAEFStore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "UAEFSecrets",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "UAEFEngine",
            dependencies: [
                "UAEFCore", "UAEFLedger", "UAEFStore", "UAEFSecrets",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "UAEFSettlement",
            dependencies: ["UAEFCore", "UAEFLedger", "UAEFStore", "UAEFEngine"]
        ),
        // Workflow templates: parameters, instances, the built-in catalogue (scripts/embed-templates).
        .target(
            name: "UAEFTemplates",
            dependencies: ["UAEFCore", "UAEFLedger", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "UAEFSchedules",
            dependencies: ["UAEFCore", "UAEFStore", "UAEFEngine", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "UAEFConnectors",
            dependencies: [
                "UAEFCore", "UAEFStore", "UAEFSecrets", "UAEFEngine", "UAEFAgents", "UAEFSettlement", "UAEFZip",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "UAEFAgents",
            dependencies: [
                "UAEFCore", "UAEFEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "UAEFMCP",
            dependencies: [
                "UAEFCore", "UAEFEngine", "UAEFAgents", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .target(
            name: "UAEFLLM",
            dependencies: [
                "UAEFCore", "UAEFEngine", "UAEFAgents", "UAEFMCP", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "UAEFFakes",
            dependencies: [
                "UAEFCore", "UAEFZip", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The web console's pages: templates (embedded by scripts/embed-console), views, drawings.
        .target(
            name: "UAEFConsole",
            dependencies: [
                "UAEFCore", "UAEFStore", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Assets"]
        ),
        .target(
            name: "UAEFServer",
            dependencies: [
                "UAEFCore", "UAEFLedger", "UAEFStore", "UAEFSecrets", "UAEFEngine", "UAEFSettlement", "UAEFConnectors",
                "UAEFSchedules", "UAEFMCP", "UAEFConsole", "UAEFTemplates",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .target(
            name: "UAEFLambda",
            dependencies: [
                "UAEFCore", "UAEFStore", "UAEFEngine", "UAEFSettlement", "UAEFServer", "UAEFConnectors",
                "UAEFSchedules",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "UAEFCLI",
            dependencies: [
                "UAEFCore", "UAEFLedger", "UAEFStore", "UAEFStoreSQLite", "UAEFStorePostgres", "UAEFSecrets",
                "UAEFEngine", "UAEFAgents", "UAEFSettlement", "UAEFConnectors", "UAEFSchedules", "UAEFServer",
                "UAEFLLM", "UAEFTemplates",
                "UAEFFakes", "UAEFLambda",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "uaef", dependencies: ["UAEFCLI", "CUAEFGlibcCompat"]),
        // glibc's posix_spawn extensions for the tests' ChildProcess.
        .target(name: "CUAEFSpawn"),
        .target(
            name: "UAEFTestSupport",
            dependencies: [
                "UAEFCore", "UAEFStore", "UAEFStoreSQLite", "UAEFStorePostgres", "UAEFEngine", "UAEFAgents",
                "CUAEFSpawn",
            ]
        ),
        .testTarget(name: "UAEFCoreTests", dependencies: ["UAEFCore"]),
        .testTarget(name: "UAEFConsoleTests", dependencies: ["UAEFConsole", "UAEFCore", "UAEFStore"]),
        .testTarget(
            name: "UAEFConnectorsTests",
            dependencies: [
                "UAEFConnectors", "UAEFCore", "UAEFStore", "UAEFTestSupport", "UAEFFakes", "UAEFEngine", "UAEFSecrets",
                "UAEFSettlement",
                "UAEFAgents", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .testTarget(name: "UAEFLedgerTests", dependencies: ["UAEFLedger", "UAEFCore"]),
        .testTarget(
            name: "UAEFTemplatesTests",
            dependencies: ["UAEFTemplates", "UAEFCore", "UAEFEngine", "UAEFAgents", "UAEFStore", "UAEFTestSupport"]),
        .testTarget(name: "UAEFZipTests", dependencies: ["UAEFZip", "UAEFTestSupport"]),
        .testTarget(
            name: "UAEFLambdaTests",
            dependencies: [
                "UAEFLambda", "UAEFServer", "UAEFFakes", "UAEFCore", "UAEFEngine", "UAEFTestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .testTarget(
            name: "UAEFLLMTests",
            dependencies: [
                "UAEFLLM", "UAEFFakes", "UAEFCore", "UAEFEngine", "UAEFAgents", "UAEFStore", "UAEFTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "UAEFStoreTests",
            dependencies: [
                "UAEFStore", "UAEFStoreSQLite", "UAEFLedger", "UAEFTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "UAEFEngineTests",
            dependencies: [
                "UAEFEngine", "UAEFAgents", "UAEFTestSupport", "UAEFSecrets", "UAEFStoreSQLite",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "UAEFSchedulesTests",
            dependencies: [
                "UAEFSchedules", "UAEFEngine", "UAEFAgents", "UAEFStore", "UAEFTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "UAEFSettlementTests",
            dependencies: [
                "UAEFSettlement", "UAEFCore", "UAEFEngine", "UAEFAgents", "UAEFStore", "UAEFTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(
            name: "UAEFCLITests",
            dependencies: [
                "UAEFCLI", "UAEFTestSupport", "UAEFLedger",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .testTarget(
            name: "UAEFServerTests",
            dependencies: [
                "UAEFServer", "UAEFEngine", "UAEFAgents", "UAEFStore", "UAEFStoreSQLite", "UAEFTestSupport",
                "UAEFLedger", "UAEFSecrets", "UAEFSettlement", "UAEFConnectors", "UAEFFakes",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "MCP", package: "swift-sdk"),
            ]),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}
