import NIOCore

/// Splits a DNS-over-TCP byte stream into messages (RFC 1035 §4.2.2, RFC 7766 §8): each
/// message is preceded by its length in two octets, network order.
///
/// A length of zero or above `maximumMessageSize` throws ``ZoneTransferFrameError/tooLarge``
/// (zero: ``ZoneTransferFrameError/empty``) before any of the message is buffered; a stream that
/// ends inside a message throws ``ZoneTransferFrameError/truncated``.
struct DNSLengthPrefixDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let maximumMessageSize: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard length > 0 else { throw ZoneTransferFrameError.empty }
        guard Int(length) <= maximumMessageSize else { throw ZoneTransferFrameError.tooLarge(Int(length)) }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let message = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw ZoneTransferFrameError.truncated(buffer.readableBytes) }
        return .needMoreData
    }
}

/// Why a DNS-over-TCP stream was cut off.
enum ZoneTransferFrameError: Error, Equatable {
    /// A length prefix above the configured maximum message size.
    case tooLarge(Int)
    /// A length prefix of zero.
    case empty
    /// The stream ended inside a message; this many octets were left.
    case truncated(Int)

    /// The `reason` label of `mamori_rpz_transfer_errors_total`.
    var reason: String {
        switch self {
        case .tooLarge: "message_too_large"
        case .empty: "empty_message"
        case .truncated: "truncated"
        }
    }
}
