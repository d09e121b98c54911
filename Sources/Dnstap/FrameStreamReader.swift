/// The reader's side of one Frame Streams connection, as a pure state machine: fed frames, it
/// says what to send back, which payloads to hand on, and when the connection is over.
///
/// Bidirectional (the writer opens with READY, as Unbound's `dnstap-bidirectional: yes` does):
/// READY → reply ACCEPT, START, data…, STOP → reply FINISH and close. Unidirectional (the
/// writer opens with START, as when reading a file or `fstrm_capture` without handshake): START,
/// data…, STOP → close. Only `protobuf:dnstap.Dnstap` is taken; a writer that offers nothing else
/// is refused with ``DnstapError/Code/unsupportedContentType``.
///
/// ```swift
/// var reader = FrameStreamReader()
/// for action in try reader.receive(frame) { … }
/// ```
public struct FrameStreamReader: Sendable {
    /// What the connection does after a frame.
    public enum Action: Sendable, Hashable {
        /// Send these bytes (an encoded control frame) to the writer.
        case reply([UInt8])
        /// Hand on this data frame's payload.
        case deliver([UInt8])
        /// The writer is done (after STOP, and FINISH if bidirectional): close the connection.
        case close
    }

    private enum State: Sendable {
        case opening
        case accepted
        case started(bidirectional: Bool)
        case stopped
    }

    private var state = State.opening
    /// The content type this reader takes.
    public let contentType: String

    public init(contentType: String = FrameStreamControl.dnstapContentType) {
        self.contentType = contentType
    }

    /// Whether START was seen and STOP not yet.
    public var isStarted: Bool {
        if case .started = state { return true }
        return false
    }

    /// Feeds one frame; returns the actions in order. Throws on a frame out of order or an
    /// unsupported content type: the caller closes the connection.
    public mutating func receive(_ frame: FrameStreamFrame) throws(DnstapError) -> [Action] {
        switch (state, frame) {
        case (.started, .data(let payload)):
            return [.deliver(payload)]
        case (.opening, .control(let c)) where c.kind == .ready:
            guard c.offers(contentType) else {
                throw DnstapError(.unsupportedContentType, "READY offers \(c) (need \(contentType))")
            }
            state = .accepted
            return [.reply(FrameStreamControl.accept(contentType: contentType).encoded())]
        case (.opening, .control(let c)) where c.kind == .start, (.accepted, .control(let c)) where c.kind == .start:
            guard c.contentTypes.isEmpty || c.offers(contentType) else {
                throw DnstapError(.unsupportedContentType, "START of \(c) (need \(contentType))")
            }
            let bidirectional: Bool
            if case .accepted = state { bidirectional = true } else { bidirectional = false }
            state = .started(bidirectional: bidirectional)
            return []
        case (.started(let bidirectional), .control(let c)) where c.kind == .stop:
            state = .stopped
            return bidirectional ? [.reply(FrameStreamControl.finish.encoded()), .close] : [.close]
        case (.stopped, _):
            throw DnstapError(.protocolViolation, "frame after STOP")
        case (_, .data):
            throw DnstapError(.protocolViolation, "data frame before START")
        case (_, .control(let c)):
            throw DnstapError(.protocolViolation, "\(c.kind) control frame out of order")
        }
    }
}
