import Testing
import SniffStore

/// The rule of docs/THREAT_MODEL.md: a database password is never printed or logged,
/// whether the --db value parses or not.
struct SecretRedactionTests {
    static let secret = "S3cr3tPassw0rd"

    static func message(_ text: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try StoreURL(text, environment: environment)
            return nil
        } catch let e as StoreError {
            return e.userMessage + "\n" + e.logMessage
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        "postgress://alice:\(secret)@db.example:5432/sniff",       // mistyped scheme
        "mysql://alice:\(secret)@db.example/sniff",
        "postgresql:/alice:\(secret)@db.example/sniff?password=\(secret)",
        "db.example/sniff?user=alice&password=\(secret)&sslmode=require",
        "postgres://alice:\(secret)@db.example:notaport/sniff",    // bad port
        "postgres://alice:\(secret)@db.example:5432/sniff?sslmode=sometimes",
        "postgres://alice:\(secret)@[::1/sniff",
    ])
    func rejectedURLsDoNotEchoThePassword(_ url: String) {
        let m = Self.message(url)
        #expect(m != nil, "\(url) was accepted")
        #expect(m?.contains(Self.secret) == false, "\(m ?? "")")
    }

    @Test func acceptedURLsAreRedactedEverywhere() throws {
        for (url, env) in [
            ("postgres://alice:\(Self.secret)@db.example:5432/sniff", [String: String]()),
            ("postgresql://alice@db.example/sniff?password=\(Self.secret)", [:]),
            ("postgres://db.example/sniff", ["PGPASSWORD": Self.secret]),
        ] {
            let u = try StoreURL(url, environment: env)
            guard case .postgres(let target) = u else { Issue.record("\(url) is not PostgreSQL"); continue }
            #expect(target.password == Self.secret)
            var dumped = ""
            dump(u, to: &dumped)
            for shown in [u.redacted, "\(u)", String(reflecting: u), "\(target)", String(reflecting: target), dumped] {
                #expect(!shown.contains(Self.secret), "\(shown)")
            }
        }
    }

    @Test func withoutCredentials() {
        #expect(StoreURL.withoutCredentials("mysql://bob:pw@h:1/d") == "mysql://bob:***@h:1/d")
        #expect(StoreURL.withoutCredentials("postgresql:/bob:p@w@h/d") == "postgresql:/bob:***@h/d")
        #expect(StoreURL.withoutCredentials("postgress://bob:p/w@h/d") == "postgress://bob:***@h/d")
        #expect(StoreURL.withoutCredentials("mysql://bob@h/d") == "mysql://bob@h/d")
        #expect(StoreURL.withoutCredentials("x://h/d?user=u&PASSWORD=pw&a=b") == "x://h/d?user=u&PASSWORD=***&a=b")
        #expect(StoreURL.withoutCredentials("sqlite:/tmp/a@b") == "sqlite:/tmp/a@b")
    }
}
