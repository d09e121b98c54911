import APIClient
import ArgumentParser
import MamoriCore

/// One request of an online command (`mamori bgp`, `fraud`, `rpz`, `share` …) to a running
/// `mamori serve`: the server's address read from --server (HOST:PORT or http://HOST:PORT), the
/// operator's machine token from --token-file or MAMORI_TOKEN, and a failure to get an answer
/// turned into one sentence (`fail`, the command's own error type) that says why.
struct OnlineRequest {
    enum Body {
        case none
        case bytes([UInt8], contentType: String = "application/json")
        /// A file streamed from disk (an upload).
        case file(String, contentType: String)
    }

    /// The command's name, for the sentence when no token is given (`mamori bgp`).
    let command: String
    let server: String
    let credentials: APITokenOptions
    /// What a refused request needs (a permission), by method and path; nil: nothing to add.
    var needs: (_ method: String, _ path: String) -> String? = { _, _ in nil }
    let fail: (String) -> any Error

    /// Sends one request; returns the status and body, or throws `fail` with a sentence.
    func send(_ method: String, _ path: String, _ body: Body = .none) async throws -> (status: Int, body: String) {
        let address =
            server.hasPrefix("http://") ? String(server.dropFirst(7)).split(separator: "/").first.map(String.init) ?? "" : server
        let endpoint: SocketEndpoint
        do { endpoint = try SocketEndpoint(parsing: address) } catch { throw ValidationError("--server: \(error)") }
        guard let token = try credentials.token() else {
            throw fail("`\(command)` needs an operator's machine token, from --token-file FILE or MAMORI_TOKEN")
        }
        do {
            let r = try await MamoriAPIClient.withClient(server: endpoint, token: token) { client in
                switch (method, body) {
                case ("GET", _): try await client.get(path)
                case ("DELETE", _): try await client.delete(path)
                case (_, .file(let file, let type)): try await client.post(path, file: file, contentType: type)
                case (_, .bytes(let bytes, let type)): try await client.post(path, body: bytes, contentType: type)
                case (_, .none): try await client.post(path, body: [])
                }
            }
            return (r.status, r.body)
        } catch let failure as MamoriAPIClient.Failure {
            if case .forbidden = failure, let needs = needs(method, path) { throw fail("\(failure); this needs \(needs)") }
            throw fail("\(failure)")
        }
    }
}
