import Foundation

/// GeoIP test databases written at test time by scripts/gen/write-test-mmdb.pl (Debian's
/// libmaxmind-db-writer-perl): no downloaded database in the repository.
public enum TestMMDB {
    /// Whether the Perl writer is installed (scripts/setup.sh --tests installs it).
    public static let writerInstalled: Bool =
        (try? Command.run("/usr/bin/perl", ["-MMaxMind::DB::Writer::Tree", "-e", "1"]).status) == 0

    /// A fresh folder holding Test-City.mmdb, Test-ASN.mmdb and Test-Other.mmdb.
    public static func write() throws -> URL {
        let dir = try TestPaths.tempDir("sniff-mmdb")
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/gen/write-test-mmdb.pl").path
        let r = try Command.run("/usr/bin/perl", [script, dir.path])
        guard r.status == 0 else { throw TestSupportError("write-test-mmdb.pl failed (\(r.status)): \(r.stderr)") }
        return dir
    }
}

/// A prerequisite a test asked the support code for could not be made.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
