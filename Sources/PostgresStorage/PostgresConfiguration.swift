import Foundation

/// Where the shared PostgreSQL database is and how to reach it: host, port, user, database, the
/// password (read from a file, never from the URL), TLS, and the pool's size.
///
/// Made from the `storage:` section of the configuration:
/// ```yaml
/// storage:
///   engine: postgresql
///   url: postgresql://mamori@db.example.net:5432/mamori?sslmode=require&sslrootcert=/etc/mamori/db-ca.pem
///   password_file: /etc/mamori/db-password
/// ```
/// ```swift
/// var configuration = try PostgresConfiguration(url: url)
/// try configuration.readPassword(from: passwordFile)
/// ```
/// Its `description` is the URL without a password, safe to log.
public struct PostgresConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// How the connection to the database is protected.
    public enum TLSMode: Sendable, Hashable {
        /// Plain TCP (`sslmode=disable`): only for a database on the same host or a trusted link.
        case disable
        /// TLS required, the server's certificate verified against `caFile` (PEM), or the
        /// system's trust roots when nil, and its name checked against the host
        /// (`sslmode=require` or `verify-full`; stricter than libpq's `require`, which checks nothing).
        case require(caFile: String?)
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    /// The password, from ``readPassword(from:)``; nil for a server that trusts the user.
    /// Never part of ``description``.
    public var password: String?
    public var tls: TLSMode
    /// The most connections the pool opens (each node of a cluster opens its own pool).
    public var maximumConnections: Int
    /// How long a connection attempt may take.
    public var connectTimeout: Duration

    public init(
        host: String, port: Int = 5432, user: String, database: String, password: String? = nil, tls: TLSMode = .require(caFile: nil),
        maximumConnections: Int = 10, connectTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
        self.tls = tls
        self.maximumConnections = maximumConnections
        self.connectTimeout = connectTimeout
    }

    /// The URL, without a password: safe for logs.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        var s = "postgresql://\(Self.encode(user))@\(h):\(port)/\(Self.encode(database))"
        switch tls {
        case .disable: s += "?sslmode=disable"
        case .require(let ca): s += "?sslmode=require" + (ca.map { "&sslrootcert=\(Self.encode($0))" } ?? "")
        }
        return s
    }

    /// Reads the password from `path`: the file's text without its final line break. An empty
    /// file or one that cannot be read is an error that names the file.
    public mutating func readPassword(from path: String) throws(PostgresStorageError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PostgresStorageError(.passwordFile, "cannot read the password file \(path)")
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw PostgresStorageError(.passwordFile, "the password file \(path) is not UTF-8 text")
        }
        // "\r\n" is one Character in Swift: one removeLast takes either ending.
        if text.last?.isNewline == true { text.removeLast() }
        guard !text.isEmpty else { throw PostgresStorageError(.passwordFile, "the password file \(path) is empty") }
        guard !text.contains(where: { $0.isNewline }), !text.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw PostgresStorageError(.passwordFile, "the password file \(path) holds more than one line: it must hold the password alone")
        }
        password = text
    }

    // MARK: - URL

    /// The longest URL accepted.
    static let maximumURLLength = 2_048

    /// Parses `postgresql://user@host:port/database?sslmode=…&sslrootcert=…`.
    ///
    /// - `postgres://` is accepted too; the port defaults to 5432, the database to the user's name.
    /// - `sslmode` is `disable`, `require` or `verify-full` (both verify the certificate and the
    ///   host name); absent, TLS is required. `prefer`, `allow` and `verify-ca` are refused: they
    ///   let an attacker on the path strip TLS or present any certificate the CA signed.
    /// - A password (`user:password@` or `?password=`) is refused: it belongs in `password_file`,
    ///   because URLs end up in logs, process lists and bug reports.
    ///
    /// Errors name the part of the URL that is wrong, never the whole URL (it may hold a password).
    public init(url: String) throws(PostgresStorageError) {
        func invalid(_ why: String) -> PostgresStorageError { PostgresStorageError(.invalidURL, "the storage URL \(why)") }
        guard url.utf8.count <= Self.maximumURLLength else { throw invalid("is longer than \(Self.maximumURLLength) bytes") }
        guard !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || !$0.isASCII }) else {
            throw invalid("holds spaces, control characters or non-ASCII characters (percent-encode them)")
        }
        var rest = Substring(url)
        let schemes = ["postgresql://", "postgres://"]
        guard let scheme = schemes.first(where: { rest.lowercased().hasPrefix($0) }) else {
            throw invalid("must start with postgresql://")
        }
        rest = rest.dropFirst(scheme.count)
        guard !rest.contains("#") else { throw invalid("has a fragment (#…): remove it") }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // userinfo@hostport; the last @ ends the userinfo (an @ in a user name is percent-encoded).
        guard let at = rest.lastIndex(of: "@") else { throw invalid("names no user: write postgresql://USER@host/database") }
        let userinfo = rest[..<at]
        let hostport = rest[rest.index(after: at)...]
        if userinfo.contains(":") {
            throw PostgresStorageError(
                .passwordInURL,
                "the storage URL carries a password: remove it from the URL and put it in password_file (URLs end up in logs)")
        }
        let user = try Self.decode(userinfo, part: "user name")
        guard !user.isEmpty else { throw invalid("names no user: write postgresql://USER@host/database") }

        var hostText: Substring
        var portText: Substring?
        if hostport.hasPrefix("[") {
            guard let close = hostport.firstIndex(of: "]") else { throw invalid("has an IPv6 address without its closing ]") }
            hostText = hostport[hostport.index(after: hostport.startIndex)..<close]
            let after = hostport[hostport.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("has characters after the IPv6 address's ]") }
                portText = after.dropFirst()
            }
            guard !hostText.isEmpty, hostText.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw invalid("has a malformed IPv6 address")
            }
        } else {
            if let colon = hostport.firstIndex(of: ":") {
                hostText = hostport[..<colon]
                portText = hostport[hostport.index(after: colon)...]
            } else {
                hostText = hostport
            }
            guard !hostText.isEmpty else { throw invalid("names no host") }
            guard hostText.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }) else {
                throw invalid("has a host that is not a name or an address (a Unix socket path is not supported)")
            }
            guard hostText.utf8.count <= 253 else { throw invalid("has a host name longer than 253 characters") }
        }
        var port = 5432
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(portText),
                (1...65_535).contains(p)
            else { throw invalid("has a port that is not a number from 1 to 65535") }
            port = p
        }
        var database = user
        if let path, !path.isEmpty {
            guard !path.contains("/") else {
                throw invalid("has a path of more than one part: the path is the database name alone (percent-encode a / in it)")
            }
            database = try Self.decode(path, part: "database name")
            guard !database.isEmpty else { throw invalid("has an empty database name") }
        }

        var tls = TLSMode.require(caFile: nil)
        var sslmode: String?
        var caFile: String?
        var seen = Set<String>()
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) where !(query.isEmpty && pair.isEmpty) {
            guard let eq = pair.firstIndex(of: "=") else { throw invalid("has a parameter without a value (name=value)") }
            let name = try Self.decode(pair[..<eq], part: "parameter name")
            let value = try Self.decode(pair[pair.index(after: eq)...], part: "parameter value")
            guard name != "password" else {
                throw PostgresStorageError(
                    .passwordInURL,
                    "the storage URL carries a password parameter: remove it from the URL and put the password in password_file")
            }
            guard seen.insert(name).inserted else { throw invalid("sets the parameter '\(Self.printable(name))' twice") }
            switch name {
            case "sslmode": sslmode = value
            case "sslrootcert":
                guard !value.isEmpty else { throw invalid("has an empty sslrootcert") }
                caFile = value
            default:
                throw invalid("has the parameter '\(Self.printable(name))', which Mamori does not know (it knows sslmode and sslrootcert)")
            }
        }
        switch sslmode {
        case nil, "require", "verify-full": tls = .require(caFile: caFile)
        case "disable":
            guard caFile == nil else { throw invalid("sets sslrootcert with sslmode=disable: choose one") }
            tls = .disable
        case "prefer", "allow", "verify-ca":
            throw invalid(
                "asks for sslmode=\(sslmode ?? ""), which Mamori does not offer: use require (TLS with the certificate and host name verified) or disable"
            )
        case let other?:
            throw invalid("has an unknown sslmode '\(Self.printable(other))' (use require or disable)")
        }
        self.init(host: String(hostText), port: port, user: user, database: database, tls: tls)
    }

    /// Percent-decodes a part of the URL; malformed escapes, NUL and invalid UTF-8 are errors.
    static func decode(_ text: Substring, part: String) throws(PostgresStorageError) -> String {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let u = text.utf8
        while i < u.endIndex {
            let b = u[i]
            if b == UInt8(ascii: "%") {
                let h1 = u.index(after: i)
                guard h1 < u.endIndex, u.index(after: h1) < u.endIndex,
                    let hi = hexValue(u[h1]), let lo = hexValue(u[u.index(after: h1)])
                else { throw PostgresStorageError(.invalidURL, "the storage URL has a malformed %-escape in its \(part)") }
                bytes.append(hi << 4 | lo)
                i = u.index(h1, offsetBy: 2)
            } else {
                bytes.append(b)
                i = u.index(after: i)
            }
        }
        guard !bytes.contains(0) else { throw PostgresStorageError(.invalidURL, "the storage URL has a NUL byte (%00) in its \(part)") }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw PostgresStorageError(.invalidURL, "the storage URL's \(part) is not valid UTF-8")
        }
        guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PostgresStorageError(.invalidURL, "the storage URL has a control character in its \(part)")
        }
        return s
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A parameter name or value quoted in an error: at most 40 characters.
    private static func printable(_ s: String) -> String { s.count > 40 ? String(s.prefix(40)) + "…" : s }

    /// Percent-encodes everything but unreserved characters (for ``description``).
    private static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if b < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
