import Foundation

extension ExternalPeer {
    /// An executable of this package (`mamori`), as `swift build` left it beside the test bundle.
    ///
    /// Looks in `$MAMORI_BIN_DIR` when set, else in the directory of the running test binary
    /// (`.build/<triple>/debug/`, where `swift build --build-tests` puts every product). Throws an
    /// error that says how to build it when it is not there.
    ///
    /// ```swift
    /// let mamori = try ExternalPeer.builtProduct("mamori")
    /// let server = try mamori.start(["serve", "--listen", "127.0.0.1:9995"])
    /// ```
    public static func builtProduct(_ name: String) throws -> ExternalPeer {
        var directories: [String] = []
        if let dir = ProcessInfo.processInfo.environment["MAMORI_BIN_DIR"] { directories.append(dir) }
        if let running = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: running).deletingLastPathComponent().path)
        }
        for d in directories {
            let candidate = d + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return ExternalPeer(path: candidate) }
        }
        throw PeerError(
            "the built '\(name)' executable is not in \(directories.joined(separator: " or ")): run `swift build --build-tests` first (scripts/test does), or set MAMORI_BIN_DIR"
        )
    }
}

/// `GET path` from an HTTP server on 127.0.0.1:`port`: the status code and body, or nil when
/// nothing answers (connection refused, or no complete answer within `timeoutSeconds`).
/// `headers` are sent as well, e.g. `["Authorization": "Bearer mamori_…"]` (see ``bearer(_:)``).
public func httpGet(port: Int, path: String, headers: [String: String] = [:], timeoutSeconds: Int = 5) -> (status: Int, body: String)? {
    httpRequest(port: port, method: "GET", path: path, headers: headers, timeoutSeconds: timeoutSeconds)
}

/// ``httpGet(port:path:headers:timeoutSeconds:)`` from async code: the blocking socket waits on a
/// thread of its own (``offThePool(_:)``). A server under test answers from Swift's cooperative
/// pool, two threads on the CI machine; a test that blocked one of them while waiting for that
/// answer could starve the server it waits for.
public func httpGet(port: Int, path: String, headers: [String: String] = [:], timeoutSeconds: Int = 5) async -> (
    status: Int, body: String
)? {
    await httpRequest(port: port, method: "GET", path: path, headers: headers, timeoutSeconds: timeoutSeconds)
}

/// ``httpRequest(port:method:path:headers:body:timeoutSeconds:)`` from async code, waiting off the
/// cooperative pool.
public func httpRequest(
    port: Int, method: String, path: String, headers: [String: String] = [:], body: String? = nil, timeoutSeconds: Int = 5
) async -> (status: Int, body: String)? {
    let answer = try? await offThePool { () -> HTTPAnswer? in
        httpRequest(port: port, method: method, path: path, headers: headers, body: body, timeoutSeconds: timeoutSeconds).map {
            HTTPAnswer(status: $0.status, body: $0.body)
        }
    }
    return (answer ?? nil).map { ($0.status, $0.body) }
}

private struct HTTPAnswer: Sendable {
    var status: Int
    var body: String
}

/// The `Authorization` header that presents an operator's machine token, for `headers:`.
public func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer " + token] }

/// One HTTP/1.1 request (`Connection: close`) to 127.0.0.1:`port`, with optional `headers` and
/// body: the status code and body, or nil when nothing answers in time. A header name or value
/// with a line break is not sent (nil), so no test can smuggle a second header or request.
public func httpRequest(
    port: Int, method: String, path: String, headers: [String: String] = [:], body: String? = nil, timeoutSeconds: Int = 5
) -> (
    status: Int, body: String
)? {
    guard !headers.contains(where: { "\($0.key)\($0.value)".contains(where: \.isNewline) }) else { return nil }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let payload = Array((body ?? "").utf8)
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
    let request = Array((head + "\r\n").utf8) + payload
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response += chunk[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n") else { return nil }
    let statusLine = text[..<headerEnd.lowerBound].split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
    return (status, String(text[headerEnd.upperBound...]))
}
