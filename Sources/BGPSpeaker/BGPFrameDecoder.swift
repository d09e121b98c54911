import BGPWire
import NIOCore

/// What the framer hands the session: one whole message, or the NOTIFICATION a bad header calls
/// for — after which the stream is out of step and nothing more is read from it.
enum BGPFrame: Sendable, Hashable {
    case message([UInt8])
    case headerError(BGPNotification)
}

/// Cuts the TCP stream into BGP messages by the header's length (RFC 4271 §4.1). A bad marker,
/// length or type is reported once as ``BGPFrame/headerError(_:)``; the rest of the connection's
/// bytes are then dropped while the session answers and closes.
struct BGPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = BGPFrame
    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if failed {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let length: Int
        do {
            guard let l = try BGPMessage.frameLength(buffer) else { return .needMoreData }
            length = l
        } catch {
            failed = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(wrapInboundOut(.headerError(error)))
            return .needMoreData
        }
        guard let bytes = buffer.readBytes(length: length) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(.message(bytes)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}
