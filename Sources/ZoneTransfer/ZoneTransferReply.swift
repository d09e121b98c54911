import FlowCodec

/// Who sent a request to the ``ZoneTransferServer``, and over what.
public struct ZoneTransferClient: Sendable, Hashable, CustomStringConvertible {
    /// The transport a request came over.
    public enum Transport: Sendable, Hashable {
        case tcp
        case udp
    }

    /// The client's address (an IPv4 address as an IPv4-mapped ``IPAddress``).
    public var address: IPAddress
    public var port: Int
    public var transport: Transport

    public init(address: IPAddress, port: Int, transport: Transport) {
        self.address = address
        self.port = port
        self.transport = transport
    }

    public var description: String { "\(address)#\(port)/\(transport == .tcp ? "tcp" : "udp")" }
}

/// Where a responder writes its answer to one request: one message (a query's answer) or many
/// (a zone transfer, RFC 5936 §2.2), in order.
///
/// ``send(_:)`` suspends while the connection cannot take more (TCP back-pressure), so a
/// responder that produces a transfer's messages one at a time never holds more than one of them
/// plus what the socket buffers. Over UDP only the first message is sent; ``send(_:)`` throws
/// ``ZoneTransferReplyClosed`` for any later one, and then a responder should stop.
public struct ZoneTransferReplyWriter: Sendable {
    private let write: @Sendable ([UInt8]) async throws -> Void

    /// A writer that hands each message to `write` (tests use this to call a responder directly).
    public init(_ write: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.write = write
    }

    /// Sends one DNS message (without a length prefix: the server adds it on TCP).
    /// - Throws: ``ZoneTransferReplyClosed`` when the client is gone or (UDP) no more fits.
    public func send(_ message: [UInt8]) async throws {
        try await write(message)
    }
}

/// The client's connection closed, or (UDP) a response has already been sent.
public struct ZoneTransferReplyClosed: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the reply is closed" }
}
