import Dnstap

extension FuzzTarget {
    /// A dnstap connection's bytes: byte 0 picks the size of the pieces the rest arrives in (1 to
    /// 64 bytes; 0: all at once). The frames go through the Frame Streams decoder and the reader's
    /// handshake, and every data frame is decoded as a ``ResolverEvent``. The frames must not
    /// depend on how the bytes were cut, and the decoder must never hold more than it was given.
    static func dnstap(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let input = Array(bytes.dropFirst())
        let chunk = first == 0 ? max(1, input.count) : Int(first % 64) + 1
        let whole = dnstapFrames([input])
        var pieces: [[UInt8]] = []
        var i = 0
        while i < input.count {
            pieces.append(Array(input[i..<min(input.count, i + chunk)]))
            i += chunk
        }
        let cut = dnstapFrames(pieces)
        precondition(cut.frames == whole.frames, "the frames do not depend on how the bytes arrive")
        precondition(cut.failed == whole.failed, "neither does an error")
        var reader = FrameStreamReader()
        for frame in whole.frames {
            if (try? reader.receive(frame)) == nil { reader = FrameStreamReader() }
            guard case .data(let payload) = frame, let event = try? ResolverEvent.decode(payload) else { continue }
            precondition(event.answerAddresses.count <= payload.count / 11, "each answer takes at least 11 bytes")
            if let name = event.question?.name { precondition(name.utf8.count <= 4 * 255, "a name is at most 255 bytes, escaped") }
            if let ms = event.queryTimeMilliseconds { precondition(ms >= 0, "times are after 1970") }
        }
    }

    /// The frames of `pieces` fed in order, until the first error.
    private static func dnstapFrames(_ pieces: [[UInt8]]) -> (frames: [FrameStreamFrame], failed: Bool) {
        var decoder = FrameStreamDecoder(maximumFrameSize: 65_536)
        var frames: [FrameStreamFrame] = []
        var given = 0
        for p in pieces {
            decoder.append(p)
            given += p.count
            do {
                while let f = try decoder.next() { frames.append(f) }
            } catch {
                return (frames, true)
            }
            precondition(decoder.bufferedBytes <= given, "the decoder holds no more than it was given")
        }
        return (frames, false)
    }
}
