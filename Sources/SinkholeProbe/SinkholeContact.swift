import FlowCodec

/// One connection to the sinkhole: who connected, when, on which port, and what it asked for.
///
/// A device that connects to the sinkhole resolved a C&C name to the sinkhole's address (the
/// RPZ rewrote the answer), so each contact is evidence that the client — or a device behind
/// it — runs the malware that looks the name up.
public struct SinkholeContact: Sendable, Hashable, CustomStringConvertible {
    /// Why a connection ended without a complete request or ClientHello.
    public enum Problem: Sendable, Hashable, CustomStringConvertible {
        /// Nothing complete arrived within the listener's first-bytes timeout.
        case timeout
        /// The client closed (or reset) the connection before its request was complete, or the
        /// listener stopped while it was open.
        case closedEarly
        /// The bytes were recognised but broke the protocol's rules, or were too many.
        case malformed(SinkholeProbeError.Code)
        /// The listener was at its connection limit; the connection was closed unread.
        case tooManyConnections

        public var description: String {
            switch self {
            case .timeout: "timeout"
            case .closedEarly: "closed_early"
            case .malformed(let code): "\(code)"
            case .tooManyConnections: "too_many_connections"
            }
        }
    }

    /// How a connection ended, for ``init(client:clientPort:localPort:milliseconds:received:result:ending:)``.
    public enum Ending: Sendable, Hashable {
        /// The probe came to a result (anything but ``SinkholeProbeResult/incomplete(_:)``).
        case decided
        /// The first-bytes timeout passed.
        case timedOut
        /// The client closed or reset the connection.
        case closedByClient
    }

    /// The client's address.
    public var client: IPAddress
    /// The client's TCP port.
    public var clientPort: Int
    /// The sinkhole's port the client connected to (80, 443, a C&C's own port …).
    public var localPort: Int
    /// When the connection was accepted, in ms since the Unix epoch.
    public var milliseconds: Int64
    /// What the client spoke.
    public var `protocol`: SinkholeProtocol
    /// The name asked for: the HTTP Host or the TLS server name, lower-cased; nil when none was sent.
    public var name: String?
    /// Bytes received before the listener decided (at most the probe's cap).
    public var receivedBytes: Int
    /// Why the connection ended without a complete request; nil when it had one (or was of an unknown protocol).
    public var problem: Problem?

    public init(
        client: IPAddress, clientPort: Int, localPort: Int, milliseconds: Int64, protocol: SinkholeProtocol, name: String? = nil,
        receivedBytes: Int = 0, problem: Problem? = nil
    ) {
        self.client = client
        self.clientPort = clientPort
        self.localPort = localPort
        self.milliseconds = milliseconds
        self.protocol = `protocol`
        self.name = name
        self.receivedBytes = receivedBytes
        self.problem = problem
    }

    /// The contact of a connection from what its first bytes were found to be and how it ended.
    ///
    /// - Parameters:
    ///   - received: the number of bytes received (0: ``SinkholeProtocol/noneSent``).
    ///   - result: ``SinkholeProbe/examine(_:maximumBytes:)`` of those bytes.
    ///   - ending: how the connection ended; matters only when `result` is incomplete.
    public init(
        client: IPAddress, clientPort: Int, localPort: Int, milliseconds: Int64, received: Int, result: SinkholeProbeResult,
        ending: Ending
    ) {
        var kind: SinkholeProtocol
        var problem: Problem?
        switch result {
        case .http: kind = .http
        case .tls: kind = .tls
        case .unknownProtocol: kind = .unknown
        case .incomplete(let p):
            kind = p ?? (received == 0 ? .noneSent : .unknown)
            problem = ending == .closedByClient ? .closedEarly : .timeout
        case .malformed(let p, let error):
            kind = p
            problem = .malformed(error.code)
        }
        self.init(
            client: client, clientPort: clientPort, localPort: localPort, milliseconds: milliseconds, protocol: kind, name: result.name,
            receivedBytes: received, problem: problem)
    }

    public var description: String {
        var s = "\(client.isIPv6 ? "[\(client)]" : "\(client)"):\(clientPort) → :\(localPort) \(self.protocol)"
        if let name { s += " \(name)" }
        if let problem { s += " (\(problem))" }
        return s
    }
}
