import FlowCodec
import SinkholeProbe
import Testing

/// HTTP request heads as clients send them, odd ones included, and ones that must be refused.
@Suite struct HTTPRequestProbeTests {
    @Test("Odd spacing, case and line ends still give the method, host and path")
    func lenient() {
        let cases: [(String, ProbedHTTPRequest)] = [
            (
                "GET /x HTTP/1.1\r\nHost: c2.example.test\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: "c2.example.test", path: "/x")
            ),
            (
                "get   /a?b=c\tHTTP/1.0\r\nhOsT:   C2.Example.TEST:8080  \r\nUser-Agent: x\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: "c2.example.test", path: "/a?b=c", version: "HTTP/1.0")
            ),
            (
                "\r\n\nPOST /gate.php http/1.1\nHost:bot.example.\nContent-Length: 5\n\nhello",
                ProbedHTTPRequest(method: "POST", host: "bot.example", path: "/gate.php")
            ),
            (
                "HEAD / HTTP/1.1\r\nX-Folded: a\r\n  b\r\nHost : h.example\r\n\r\n",
                ProbedHTTPRequest(method: "HEAD", host: "h.example", path: "/")
            ),
            ("GET /\r\n", ProbedHTTPRequest(method: "GET", host: nil, path: "/", version: nil)),
            ("GET / HTTP/1.1\r\n\r\n", ProbedHTTPRequest(method: "GET", host: nil, path: "/")),
            ("GET / HTTP/1.1\r\nHost:\r\n\r\n", ProbedHTTPRequest(method: "GET", host: nil, path: "/")),
            (
                "GET http://user:pw@Abs.Example:81/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: "abs.example", path: "/p?q")
            ),
            ("GET HTTPS://abs.example HTTP/1.1\r\n\r\n", ProbedHTTPRequest(method: "GET", host: "abs.example", path: "/")),
            (
                "CONNECT c2.example:443 HTTP/1.1\r\nHost: c2.example:443\r\n\r\n",
                ProbedHTTPRequest(method: "CONNECT", host: "c2.example", path: "")
            ),
            (
                "GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: nil, hostAddress: IPAddress("192.0.2.1"), path: "/")
            ),
            (
                "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: nil, hostAddress: IPAddress("2001:db8::1"), path: "/")
            ),
            (
                "GET /caf\u{E9} HTTP/1.1\r\nHost: a_b.example\r\n\r\n",
                ProbedHTTPRequest(method: "GET", host: "a_b.example", path: "/caf%C3%A9")
            ),
            (
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                ProbedHTTPRequest(method: "PRI", host: nil, path: "*", version: "HTTP/2.0")
            ),
        ]
        for (text, expected) in cases {
            #expect(examine(text) == .http(expected), "\(text.debugDescription)")
        }
    }

    @Test("A long path is cut to 256 characters and marked")
    func longPath() throws {
        let path = "/" + String(repeating: "a", count: 5000)
        let request = try #require(examine("GET \(path) HTTP/1.1\r\nHost: x.example\r\n\r\n").request)
        #expect(request.path.count == ProbedHTTPRequest.maximumPathLength && request.pathTruncated)
        #expect(request.host == "x.example")
    }

    @Test("Incomplete until the empty line; the protocol is known from the method on")
    func incomplete() {
        #expect(examine("") == .incomplete(nil))
        #expect(examine("G") == .incomplete(nil))
        #expect(examine("\r\n\r\nPROPF") == .incomplete(nil))
        #expect(examine("\r") == .incomplete(nil))
        #expect(examine("GET ") == .incomplete(.http))
        #expect(examine("GET / HTTP/1.1\r\nHost: a.example\r\n") == .incomplete(.http))
        #expect(examine("GET / HTTP/1.1\r\nHost: a.example\r\n\r") == .incomplete(.http))
        let full = "OPTIONS * HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n"
        for n in 0..<full.utf8.count {
            #expect(SinkholeProbe.examine(Array(full.utf8.prefix(n))).isIncomplete, "prefix \(n)")
        }
    }

    @Test("Other protocols are unknown as soon as the first word says so")
    func unknown() {
        for text in [
            "SSH-2.0-OpenSSH_9.2\r\n", "HELO mail.example\r\n", "GETX / HTTP/1.1\r\n", "\u{0}\u{1}\u{2}", "G\u{0}T", "1234",
            "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", "\rX", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ] {
            #expect(examine(text) == .unknownProtocol, "\(text.debugDescription)")
        }
    }

    @Test("Requests that break the rules are malformed, with the code that says why")
    func malformed() {
        let cases: [(String, SinkholeProbeError.Code)] = [
            ("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a.example\r\n  .evil\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: c2 example\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a..example\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: [zz::1]:80\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a.example:1:2\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: %61.example\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: \(String(repeating: "a", count: 64)).example\r\n\r\n", .host),
            (
                "GET / HTTP/1.1\r\nHost: \(([String](repeating: String(repeating: "b", count: 63), count: 4)).joined(separator: "."))\r\n\r\n",
                .host
            ),
            ("GET / HTTP/1.1\r\nHost: ex\u{E4}mple.test\r\n\r\n", .host),
            ("GET http://bad_host!/ HTTP/1.1\r\n\r\n", .host),
            ("GET / HTTP/1.1\r\nHost: a.example\u{0}.evil\r\n\r\n", .header),
            ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", .header),
            ("GET / HTTP/1.1\r\nno colon here\r\n\r\n", .header),
            ("GET / HTTP/1.1\r\nHo st: a.example\r\n\r\n", .header),
            ("GET / HTTP/1.1\r\n: empty name\r\n\r\n", .header),
            ("GET / HTTP/1.1\u{7F}\r\n\r\n", .header),
            ("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 129) + "\r\n", .header),
            ("GET\r\n\r\n", .requestLine),
            ("GET / HTTP/1.1 extra\r\n\r\n", .requestLine),
            ("GET / HTTP/x.y\r\n\r\n", .requestLine),
            ("GET / HTTP/1.10\r\n\r\n", .requestLine),
            ("GET / FTP/1.1\r\n\r\n", .requestLine),
        ]
        for (text, code) in cases {
            let result = examine(text)
            #expect(result.malformedCode == code, "\(text.debugDescription): \(result)")
            #expect(result.recognisedProtocol == .http)
        }
    }

    @Test("A head that does not end within the bytes examined is too large; below the cap it is incomplete")
    func tooLarge() {
        let head = "GET / HTTP/1.1\r\nHost: a.example\r\nCookie: " + String(repeating: "z", count: 20000)
        #expect(examine(head).malformedCode == .tooLarge)
        #expect(SinkholeProbe.examine(Array(head.utf8.prefix(16000))).isIncomplete)
        #expect(examine(head + "\r\n\r\n", maximumBytes: 40000).request?.host == "a.example")
        // A body past the cap does not matter once the head has ended.
        #expect(
            examine("POST / HTTP/1.1\r\nHost: a.example\r\n\r\n" + String(repeating: "\u{0}", count: 20000)).request?.host == "a.example")
    }
}
