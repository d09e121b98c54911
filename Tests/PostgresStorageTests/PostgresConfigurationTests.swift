import Foundation
import MamoriCore
import MamoriTesting
import PostgresStorage
import Testing

/// The storage URL and the password file: what is accepted, and what is refused with which message.
@Suite struct PostgresConfigurationTests {
    @Test("a full URL: user, host, port, database, TLS with a CA file")
    func fullURL() throws {
        let c = try PostgresConfiguration(
            url: "postgresql://mamori@db.example.net:6543/abuse?sslmode=require&sslrootcert=/etc/mamori/ca.pem")
        #expect(c.user == "mamori")
        #expect(c.host == "db.example.net")
        #expect(c.port == 6543)
        #expect(c.database == "abuse")
        #expect(c.tls == .require(caFile: "/etc/mamori/ca.pem"))
        #expect(c.password == nil)
        #expect(c.description == "postgresql://mamori@db.example.net:6543/abuse?sslmode=require&sslrootcert=%2Fetc%2Fmamori%2Fca.pem")
        // What description prints parses back to the same configuration.
        #expect(try PostgresConfiguration(url: c.description) == c)
    }

    @Test("defaults: port 5432, the database named after the user, TLS required")
    func defaults() throws {
        let c = try PostgresConfiguration(url: "postgres://mamori@10.0.0.5")
        #expect(c.port == 5432)
        #expect(c.database == "mamori")
        #expect(c.tls == .require(caFile: nil))
        let d = try PostgresConfiguration(url: "POSTGRESQL://ops@db/")
        #expect(d.database == "ops")
        #expect(try PostgresConfiguration(url: "postgresql://u@h/db?sslmode=verify-full").tls == .require(caFile: nil))
        #expect(try PostgresConfiguration(url: "postgresql://u@h/db?sslmode=disable").tls == .disable)
    }

    @Test("IPv6 addresses in brackets, and percent-encoded names")
    func ipv6AndEncoding() throws {
        let c = try PostgresConfiguration(url: "postgresql://abuse%40isp@[2001:db8::5]:5433/%E5%AE%88%E3%82%8A?sslmode=disable")
        #expect(c.host == "2001:db8::5")
        #expect(c.port == 5433)
        #expect(c.user == "abuse@isp")
        #expect(c.database == "守り")
        #expect(c.description == "postgresql://abuse%40isp@[2001:db8::5]:5433/%E5%AE%88%E3%82%8A?sslmode=disable")
        #expect(try PostgresConfiguration(url: c.description) == c)
    }

    @Test("a password in the URL is refused, and the message neither repeats it nor the URL")
    func passwordRefused() {
        for url in [
            "postgresql://mamori:S3cretPw@db/mamori", "postgresql://mamori:@db/mamori",
            "postgresql://mamori@db/mamori?password=S3cretPw", "postgresql://mamori@db/mamori?sslmode=disable&password=S3cretPw",
        ] {
            do {
                _ = try PostgresConfiguration(url: url)
                Issue.record("accepted \(url)")
            } catch {
                #expect(error.code == .passwordInURL, "\(url)")
                #expect(error.description.contains("password_file"))
                #expect(!error.description.contains("S3cretPw"))
                #expect(!error.description.contains("db/mamori"))
            }
        }
    }

    @Test(
        "hostile and malformed URLs get a clear error naming what is wrong",
        arguments: [
            ("", "must start with postgresql://"),
            ("mysql://u@h/db", "must start with postgresql://"),
            ("postgresql://h/db", "names no user"),
            ("postgresql://@h/db", "names no user"),
            ("postgresql://u@/db", "names no host"),
            ("postgresql://u@h:0/db", "port"),
            ("postgresql://u@h:65536/db", "port"),
            ("postgresql://u@h:-1/db", "port"),
            ("postgresql://u@h:54x2/db", "port"),
            ("postgresql://u@h:/db", "port"),
            ("postgresql://u@h:999999999999999999999999/db", "port"),
            ("postgresql://u@[::1/db", "closing ]"),
            ("postgresql://u@[::1]x/db", "after the IPv6"),
            ("postgresql://u@[zz::1]/db", "malformed IPv6"),
            ("postgresql://u@h/a/b", "more than one part"),
            ("postgresql://u@h/db#x", "fragment"),
            ("postgresql://u@h/db?sslmode=prefer", "sslmode=prefer"),
            ("postgresql://u@h/db?sslmode=allow", "sslmode=allow"),
            ("postgresql://u@h/db?sslmode=verify-ca", "sslmode=verify-ca"),
            ("postgresql://u@h/db?sslmode=bogus", "unknown sslmode"),
            ("postgresql://u@h/db?sslmode=disable&sslmode=require", "twice"),
            ("postgresql://u@h/db?sslmode", "without a value"),
            ("postgresql://u@h/db?application_name=x", "does not know"),
            ("postgresql://u@h/db?sslmode=disable&sslrootcert=/ca.pem", "choose one"),
            ("postgresql://u@h/db?sslrootcert=", "empty sslrootcert"),
            ("postgresql://u%zz@h/db", "malformed %-escape"),
            ("postgresql://u%4@h/db", "malformed %-escape"),
            ("postgresql://u@h/d%00b", "NUL"),
            ("postgresql://u@h/d%0Ab", "control character"),
            ("postgresql://u@h/d%FFb", "not valid UTF-8"),
            ("postgresql://u@h/db\n", "control characters"),
            ("postgresql://u@h /db", "spaces"),
            ("postgresql://u@hé/db", "non-ASCII"),
            ("postgresql://u@/var/run/postgresql/db", "names no host"),
            ("postgresql://u@h%2Fsock/db", "not a name or an address"),
            ("postgresql://u@" + String(repeating: "a", count: 254) + "/db", "longer than 253"),
            ("postgresql://u@h/" + String(repeating: "d", count: 3_000), "longer than 2048"),
        ])
    func hostile(url: String, expected: String) {
        do {
            let c = try PostgresConfiguration(url: url)
            Issue.record("accepted \(url.debugDescription) as \(c)")
        } catch {
            #expect(error.code == .invalidURL, "\(url.debugDescription)")
            #expect(error.description.contains(expected), "\(url.debugDescription): \(error.description)")
            #expect(error.description.count < 300, "a short message, not the input")
        }
    }

    @Test("seeded random mutations of a URL never trap: each parses or throws a URL error")
    func mutations() {
        var rng = SplitMix64(seed: 20_261_207)
        let base = Array("postgresql://mamori@[2001:db8::1]:5432/db?sslmode=require&sslrootcert=%2Fca.pem".utf8)
        let alphabet = Array("@:/?&=#%[]0aZ.-_ \u{7F}".utf8)
        for _ in 0..<5_000 {
            var bytes = base
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if bytes.isEmpty { bytes = base }
            }
            let url = String(decoding: bytes, as: UTF8.self)
            do {
                let c = try PostgresConfiguration(url: url)
                #expect((1...65_535).contains(c.port) && !c.user.isEmpty && !c.host.isEmpty && !c.database.isEmpty)
            } catch {
                #expect(error.code == .invalidURL || error.code == .passwordInURL)
            }
        }
    }

    @Test("the password file: its text without the final line break; missing, empty or several lines refused")
    func passwordFile() throws {
        let dir = try TemporaryDirectory()
        var c = try PostgresConfiguration(url: "postgresql://u@h/db")
        for (content, expected) in [("pw\n", "pw"), ("pw\r\n", "pw"), ("p w ", "p w "), ("pässwörd", "pässwörd")] {
            try content.write(toFile: dir.path + "/p", atomically: true, encoding: .utf8)
            try c.readPassword(from: dir.path + "/p")
            #expect(c.password == expected)
        }
        // The password is never in the description.
        #expect(!c.description.contains("pässwörd"))
        for (content, message) in [
            ("", "is empty"), ("\n", "is empty"), ("a\nb\n", "more than one line"), ("a\u{0}b", "more than one line"),
        ] {
            try content.write(toFile: dir.path + "/p", atomically: true, encoding: .utf8)
            #expect(throws: PostgresStorageError.self) { try c.readPassword(from: dir.path + "/p") }
            do {
                try c.readPassword(from: dir.path + "/p")
            } catch {
                #expect(error.code == .passwordFile)
                #expect(error.description.contains(message), "\(content.debugDescription): \(error)")
            }
        }
        do {
            try c.readPassword(from: dir.path + "/absent")
            Issue.record("read an absent file")
        } catch {
            #expect(error.description.contains("cannot read the password file \(dir.path)/absent"))
        }
    }

    @Test("a CA file that cannot be read is refused when the database is made, naming the file")
    func missingCAFile() throws {
        let c = try PostgresConfiguration(url: "postgresql://u@h/db?sslrootcert=/nonexistent/ca.pem")
        do {
            _ = try PostgresDatabase(configuration: c)
            Issue.record("accepted a missing CA file")
        } catch {
            #expect(error.code == .tls)
            #expect(error.description.contains("/nonexistent/ca.pem"))
        }
    }
}
