// swift-tools-version:6.0
import PackageDescription

// Modules are ordered by dependency direction: each depends only on those above it.
let package = Package(
    name: "fairflow",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "fairflow", targets: ["fairflow"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // 1. C libraries and the shim for their variadic calls and macros.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "CShims", dependencies: ["CCurl", "CSSH2"]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        // 2. Transports.
        .target(name: "HTTPTransport", dependencies: ["CCurl", "CShims"]),
        .target(name: "SSHTransport", dependencies: [
            "CSSH2", "CShims", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "MetadataDB", dependencies: ["CMariaDB"]),
        // 3. Pure signer.
        .target(name: "AWSSigV4", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // 4. AWS client core and the services we use.
        .target(name: "AWSCore", dependencies: [
            "HTTPTransport", "AWSSigV4",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "AWSServices", dependencies: ["AWSCore", .product(name: "Crypto", package: "swift-crypto")]),
        // 5. Airflow's REST API, v1 and v2 behind one protocol.
        .target(name: "AirflowAPI", dependencies: ["HTTPTransport"]),
        // 6. The template generator (pure) and the operations.
        .target(name: "FairflowTemplate", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "FairflowCore", dependencies: [
            "AWSServices", "AirflowAPI", "SSHTransport", "MetadataDB", "FairflowTemplate",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // 7. Runbooks.
        .target(name: "Runbook", dependencies: ["FairflowCore", .product(name: "Yams", package: "Yams")]),
        // 8. The command tree.
        .target(name: "FairflowCLI", dependencies: [
            "Runbook", "FairflowCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // 9. The binary and test support.
        .executableTarget(name: "fairflow", dependencies: ["FairflowCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "FairflowTestSupport", dependencies: ["FairflowCore", "HTTPTransport"], linkerSettings: [.linkedFramework("XCTest", .when(platforms: [.macOS]))]),
        .testTarget(name: "AWSSigV4Tests", dependencies: ["AWSSigV4"]),
        .testTarget(name: "HTTPTransportTests", dependencies: ["HTTPTransport", "FairflowTestSupport"]),
        .testTarget(name: "AWSCoreTests", dependencies: ["AWSCore", "AWSServices", "FairflowTestSupport"]),
        .testTarget(name: "FairflowTemplateTests", dependencies: ["FairflowTemplate", "FairflowTestSupport"]),
        .testTarget(name: "FairflowCLITests", dependencies: ["FairflowCLI", "FairflowTestSupport"]),
        .testTarget(name: "DayTwoTests", dependencies: ["FairflowCore", "FairflowTemplate", "AWSServices", "FairflowTestSupport"],
                    exclude: ["Recorded"]),
        .testTarget(name: "StackTests", dependencies: ["FairflowCore", "AWSServices", "HTTPTransport", "FairflowTestSupport"]),
        .testTarget(name: "AirflowAPITests", dependencies: ["AirflowAPI", "HTTPTransport", "FairflowTestSupport"]),
        .testTarget(name: "SSHTransportTests", dependencies: ["SSHTransport", "FairflowTestSupport"]),
        .testTarget(name: "MetadataDBTests", dependencies: ["MetadataDB", "FairflowTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "BastionTests", dependencies: ["FairflowCore", "MetadataDB", "SSHTransport", "FairflowTestSupport"]),
        .testTarget(name: "RunbookTests", dependencies: ["Runbook", "FairflowCLI", "FairflowTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
