import APIClient
import Foundation
import Hummingbird
import HummingbirdTesting
import MamoriCore
import MamoriTesting
import NIOCore
import Testing

/// MamoriAPIClient against a real HTTP server on loopback (Hummingbird, as `mamori serve` is):
/// what reaches the server, what comes back, and what is said when it goes wrong.
@Suite struct APIClientTests {
    static func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/api/v1/hello") { request, _ -> String in
            "hello \(request.uri.queryParameters["name"].map(String.init) ?? "")"
        }
        router.post("/api/v1/echo") { request, _ -> String in
            let body = try await request.body.collect(upTo: 1 << 20)
            return "\(request.headers[.contentType] ?? "-") \(String(buffer: body))"
        }
        router.get("/api/v1/refuse") { _, _ -> Response in
            Response(status: .badRequest, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"error\":\"no such address\"}\n")))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test("GET with a query and POST with a body and content type reach the server; statuses and bodies come back")
    func requests() async throws {
        try await Self.application().test(.live) { client in
            let port = try #require(client.port)
            try await MamoriAPIClient.withClient(server: SocketEndpoint(host: "127.0.0.1", port: port)) { api in
                #expect(try await api.get("/api/v1/hello?name=mamori").ok() == "hello mamori")
                let echo = try await api.post(
                    "/api/v1/echo", body: Array("account,email\nA-1,a@example.jp\n".utf8), contentType: "text/csv; charset=utf-8")
                #expect(echo.status == 200)
                #expect(echo.body == "text/csv; charset=utf-8 account,email\nA-1,a@example.jp\n")
                let refused = try await api.get("/api/v1/refuse")
                #expect(refused.status == 400)
                #expect(refused.body == "{\"error\":\"no such address\"}\n")
                #expect {
                    try refused.ok()
                } throws: { error in
                    "\(error)" == "the server answered 400: {\"error\":\"no such address\"}"
                }
                #expect(try await api.get("/api/v1/missing").status == 404)
            }
        }
    }

    /// A refused connection ends the request: retried (async-http-client's default), a request
    /// without a deadline would wait for ever, which the time limit turns into a failure. (No
    /// wall-clock bound tighter than that: in the full parallel suite this test may wait a long
    /// time for a thread.)
    @Test("nobody listening: the request fails, unreachable, with the reason", .timeLimit(.minutes(5)))
    func nobodyListening() async throws {
        let port = try freeTCPPort()
        await #expect {
            try await MamoriAPIClient.withClient(server: SocketEndpoint(host: "127.0.0.1", port: port)) { api in
                try await api.get("/healthz")
            }
        } throws: { error in
            guard case .unreachable(let server, let reason) = error as? MamoriAPIClient.Failure else { return false }
            return server.port == port && reason == "Connection refused"
                && "\(error)" == "cannot reach mamori serve at 127.0.0.1:\(port) (Connection refused); is it running?"
        }
    }
}
