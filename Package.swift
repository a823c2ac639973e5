// swift-tools-version:6.0
import PackageDescription

// Modules are layered; arrows point down only:
// SniffCore → SniffDecode → SniffCapture → SniffAnalysis → (store → server) → sniff
let package = Package(
    name: "Sniff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sniff", targets: ["sniff"]),
        .library(name: "SniffCore", targets: ["SniffCore"]),
        .library(name: "SniffDecode", targets: ["SniffDecode"]),
        .library(name: "SniffCapture", targets: ["SniffCapture"]),
        .library(name: "SniffAnalysis", targets: ["SniffAnalysis"]),
        .library(name: "SniffStore", targets: ["SniffStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .target(name: "SniffCore"),
        .target(name: "SniffDecode", dependencies: ["SniffCore"]),
        .target(name: "SniffCapture", dependencies: ["SniffCore", "SniffDecode", "CPcap"]),
        .target(name: "SniffAnalysis", dependencies: ["SniffCore", "SniffDecode", "SniffCapture"]),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "SniffStore",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffAnalysis", "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .executableTarget(
            name: "sniff",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sniff-bench",
            dependencies: ["SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore"]
        ),
        .testTarget(name: "SniffCoreTests", dependencies: ["SniffCore"]),
        .testTarget(name: "SniffDecodeTests", dependencies: ["SniffCore", "SniffDecode"]),
        .testTarget(
            name: "SniffCaptureTests",
            dependencies: ["SniffCore", "SniffDecode", "SniffCapture"],
            resources: []
        ),
        .testTarget(name: "SniffAnalysisTests", dependencies: ["SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis"]),
        .testTarget(name: "SniffCLITests", dependencies: ["SniffCore", "sniff"]),
        .testTarget(
            name: "SniffStoreTests",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
