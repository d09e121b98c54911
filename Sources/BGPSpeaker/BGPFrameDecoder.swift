import BGPWire
import NIOCore

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
        guard let frame = BGPMessage.nextFrame(&buffer) else { return .needMoreData }
        if case .headerError = frame { failed = true }
        context.fireChannelRead(wrapInboundOut(frame))
        return failed ? .needMoreData : .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}
