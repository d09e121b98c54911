/// One frame of a Frame Streams byte stream.
public enum FrameStreamFrame: Sendable, Hashable {
    /// A data frame's payload (for dnstap, one protobuf `Dnstap` message).
    case data([UInt8])
    /// A control frame of the handshake.
    case control(FrameStreamControl)
}

/// Splits a Frame Streams byte stream into frames, fed bytes as they arrive (in pieces of any size).
///
/// A data frame is a 32-bit big-endian length (not zero) and that many bytes; a control frame is
/// an escape (a zero length), its own length and its body (``FrameStreamControl``). A frame longer
/// than ``maximumFrameSize`` (or a control frame longer than fstrm's 512 bytes) throws
/// ``DnstapError/Code/frameTooLarge`` before its bytes are buffered; after any error the decoder
/// throws it again on every call — the stream has lost its framing and the caller closes it.
///
/// ```swift
/// var decoder = FrameStreamDecoder(maximumFrameSize: 1 << 16)
/// decoder.append(bytesFromSocket)
/// while let frame = try decoder.next() { handle(frame) }
/// ```
public struct FrameStreamDecoder: Sendable {
    /// The largest data frame accepted, in bytes (the payload, without its length).
    public let maximumFrameSize: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: DnstapError?

    /// - Parameter maximumFrameSize: the largest data frame accepted. fstrm's writers default to
    ///   frames well under 64 KiB (a DNS message is at most 64 KiB, plus dnstap's fields).
    public init(maximumFrameSize: Int = 128 * 1024) {
        self.maximumFrameSize = max(1, maximumFrameSize)
    }

    /// Bytes received and not yet returned as frames.
    public var bufferedBytes: Int { buffer.count - start }

    /// Adds bytes received from the stream.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws(DnstapError) -> FrameStreamFrame? {
        if let failure { throw failure }
        do {
            return try decodeNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func decodeNext() throws(DnstapError) -> FrameStreamFrame? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = Int(FrameStreamControl.read32(buffer, at: start))
        if length != 0 {
            guard length <= maximumFrameSize else {
                throw DnstapError(.frameTooLarge, "data frame of \(length) bytes (at most \(maximumFrameSize))")
            }
            guard available - 4 >= length else { return nil }
            let payload = Array(buffer[(start + 4)..<(start + 4 + length)])
            start += 4 + length
            return .data(payload)
        }
        guard available >= 8 else { return nil }
        let controlLength = Int(FrameStreamControl.read32(buffer, at: start + 4))
        guard controlLength <= FrameStreamControl.maximumLength else {
            throw DnstapError(
                .frameTooLarge, "control frame of \(controlLength) bytes (at most \(FrameStreamControl.maximumLength))")
        }
        guard available - 8 >= controlLength else { return nil }
        let control = try FrameStreamControl.decode(body: buffer[(start + 8)..<(start + 8 + controlLength)])
        start += 8 + controlLength
        return .control(control)
    }
}
