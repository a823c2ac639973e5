import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffTestSupport

/// Every input in Tests/Regressions, replayed through the fuzz target its name starts
/// with (`dns-pointer-loop-1a2b.bin` → the `dns` target). The targets are the harness's
/// own code (FuzzTargets.swift is a symlink to Fuzz/FuzzTargets.swift), so a finding
/// replays exactly as it was found. Files are added when something is found and are
/// never deleted.
@Suite(.serialized)
struct RegressionTests {
    static var directory: URL { TestPaths.packageRoot.appendingPathComponent("Tests/Regressions") }

    static var files: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map {
            directory.appendingPathComponent($0)
        }
    }

    static func target(of file: URL) -> String {
        String(file.lastPathComponent.prefix { $0 != "-" })
    }

    @Test func everyFileNamesATarget() {
        #expect(!Self.files.isEmpty, "Tests/Regressions is missing")
        for f in Self.files {
            #expect(FuzzTargets.all.contains(Self.target(of: f)), "\(f.lastPathComponent): no fuzz target of that name")
        }
    }

    @Test(arguments: RegressionTests.files.map(\.lastPathComponent))
    func replay(_ name: String) throws {
        let file = Self.directory.appendingPathComponent(name)
        let bytes = try [UInt8](Data(contentsOf: file))
        let ran = bytes.withUnsafeBytes { FuzzTargets.run(Self.target(of: file), $0) }
        #expect(ran)
        for failure in FuzzTargets.failures { Issue.record("\(name): \(failure)") }
    }

    /// Every target on empty input and on a few hundred random inputs: the replay
    /// machinery itself works, and nothing traps on noise.
    @Test func everyTargetOnNoise() {
        var rng = SplitMix(seed: 0x5EED)
        for target in FuzzTargets.all {
            for n in [0, 1, 2, 7, 24, 64, 300, 1500] {
                for _ in 0..<(n == 0 ? 1 : 8) {
                    let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    bytes.withUnsafeBytes { _ = FuzzTargets.run(target, $0) }
                    for failure in FuzzTargets.failures { Issue.record("\(target) on \(bytes): \(failure)") }
                }
            }
        }
    }
}

/// A small deterministic generator, so that a failure names bytes that reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
