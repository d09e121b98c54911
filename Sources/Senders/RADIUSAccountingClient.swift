import IdentityCodec
import MamoriCore

#if canImport(Glibc)
import Glibc
#endif

/// A NAS's accounting side: signs Accounting-Requests, sends them over a connected UDP socket,
/// and verifies Accounting-Responses (RFC 2866 §3). No retransmission: it counts what was answered.
/// With `messageAuthenticator`, every request carries a Message-Authenticator (RFC 3579 §3.2).
public final class RADIUSAccountingClient {
    private let fd: Int32
    private let secret: [UInt8]
    private let messageAuthenticator: Bool
    private var nextIdentifier: UInt8 = 0
    /// Request Authenticators of requests in flight, by Identifier.
    private var inFlight: [UInt8: RADIUSPacket] = [:]
    public private(set) var sent = 0
    public private(set) var answered = 0
    public private(set) var rejected = 0
    public private(set) var sendFailures = 0

    /// Throws a ``SenderError`` when no socket can be connected to `endpoint`.
    public init(to endpoint: SocketEndpoint, secret: [UInt8], messageAuthenticator: Bool = false) throws {
        self.secret = secret
        self.messageAuthenticator = messageAuthenticator
        fd = try connectedUDPSocket(to: endpoint)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Signs and sends one record; every 64 packets it reads responses and yields briefly, so a
    /// burst (thousands of Starts at the run's start) does not overrun the server's socket buffer.
    public func send(_ record: AccountingRecord) async throws {
        // An Identifier is reused only after its response came (or 100 ms passed: counted as unanswered).
        for _ in 0..<50 where inFlight[nextIdentifier] != nil {
            collectResponses()
            if inFlight[nextIdentifier] != nil { try await Task.sleep(nanoseconds: 2_000_000) }
        }
        let request = try RADIUSPacket.accountingRequest(
            identifier: nextIdentifier, attributes: record.attributes, secret: secret,
            messageAuthenticator: messageAuthenticator)
        let bytes = try request.encoded()
        inFlight[nextIdentifier] = request
        nextIdentifier &+= 1
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        if n == bytes.count { sent += 1 } else { sendFailures += 1 }
        if sent % 64 == 0 {
            collectResponses()
            try await Task.sleep(nanoseconds: 5_000_000)
            collectResponses()
        }
    }

    /// Reads every response waiting on the socket (non-blocking).
    public func collectResponses() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<100_000 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return }
            guard let response = try? RADIUSPacket.decode(buffer[0..<n]), let request = inFlight[response.identifier] else {
                rejected += 1
                continue
            }
            if response.isValidAccountingResponse(to: request, secret: secret) {
                answered += 1
                inFlight[response.identifier] = nil
            } else {
                rejected += 1
            }
        }
    }

    deinit { close(fd) }
}
