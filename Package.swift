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
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // Already in the graph through postgres-nio (same range); QUIC Initial decryption
        // and TLS fingerprints need HKDF, AES-GCM, the AES block function, MD5 and SHA-256.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.9.0" ..< "6.0.0"),
        // Alert rule files are YAML.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The alert webhook's client: the versions already resolved through Hummingbird.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .systemLibrary(
            name: "CNcurses",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        // MaxMind DB files (GeoLite2, DB-IP lite): country, city and ASN per address.
        .systemLibrary(
            name: "CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),
        .target(name: "SniffCore"),
        // Cache prefetch hints for the file reader and the flow table (Swift has none).
        .target(name: "CPrefetch"),
        .target(
            name: "SniffDecode",
            dependencies: [
                "SniffCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "SniffCapture", dependencies: ["SniffCore", "SniffDecode", "CPcap", "CPrefetch"]),
        .target(
            name: "SniffAnalysis",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "CMaxMindDB", "CPrefetch",
                // SHA-1 for Community ID.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "SniffStore",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // ClickHouse's HTTP interface.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SniffServer",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                // The alert webhook's client (https, timeouts).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            resources: [.copy("Dashboard")]
        ),
        // `sniff top`'s model and layout: pure, drawn by the CLI through ncurses.
        .target(
            name: "SniffTop",
            dependencies: ["SniffCore", "SniffDecode", "SniffAnalysis", "SniffStore", "SniffServer"]
        ),
        .executableTarget(
            name: "sniff",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore", "SniffServer",
                "SniffTop", "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "sniff-bench",
            dependencies: ["SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore"]
        ),
        // What every test target shares: paths, the command runner, frame builders,
        // loopback traffic. Depends on nothing of Sniff's, so any layer's tests can use it.
        .target(name: "SniffTestSupport", path: "Tests/SniffTestSupport"),
        .testTarget(name: "SniffCoreTests", dependencies: ["SniffCore"]),
        .testTarget(
            name: "SniffDecodeTests",
            dependencies: ["SniffCore", "SniffDecode", "SniffTestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "SniffCaptureTests",
            dependencies: ["SniffCore", "SniffDecode", "SniffCapture", "SniffTestSupport"],
            resources: []
        ),
        .testTarget(
            name: "SniffAnalysisTests",
            dependencies: ["SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffTestSupport"]
        ),
        .testTarget(
            name: "SniffTopTests",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore", "SniffServer", "SniffTop",
                "SniffTestSupport",
            ]
        ),
        // `sniff`: the binary the tests run.
        .testTarget(name: "SniffCLITests", dependencies: ["SniffCapture", "sniff", "SniffTestSupport"]),
        .testTarget(
            name: "SniffStoreTests",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore", "SniffTestSupport",
                // The API's parameter readers: many store checks ask as the API does.
                "SniffServer",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "SniffServerTests",
            dependencies: [
                "SniffCore", "SniffDecode", "SniffCapture", "SniffAnalysis", "SniffStore", "SniffServer",
                "SniffTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
