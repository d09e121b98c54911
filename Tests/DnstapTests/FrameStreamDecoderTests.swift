import Dnstap
import Testing

/// Frame Streams framing: data and control frames, split anywhere, and what the decoder refuses.
@Suite struct FrameStreamDecoderTests {
    static let ready = FrameStreamControl(.ready, contentTypes: [Array(FrameStreamControl.dnstapContentType.utf8)])
    static let start = FrameStreamControl(.start, contentTypes: [Array(FrameStreamControl.dnstapContentType.utf8)])
    static let stop = FrameStreamControl(.stop)

    /// A writer's whole bidirectional session: READY, START, two data frames, STOP.
    static let session: [UInt8] =
        ready.encoded() + start.encoded() + Wire.dataFrame([1, 2, 3]) + Wire.dataFrame(Array(repeating: 9, count: 300))
        + stop.encoded()
    static let frames: [FrameStreamFrame] = [
        .control(ready), .control(start), .data([1, 2, 3]), .data(Array(repeating: 9, count: 300)), .control(stop),
    ]

    static func decodeAll(_ chunks: [[UInt8]], maximumFrameSize: Int = 1024) throws -> [FrameStreamFrame] {
        var decoder = FrameStreamDecoder(maximumFrameSize: maximumFrameSize)
        var out: [FrameStreamFrame] = []
        for c in chunks {
            decoder.append(c)
            while let f = try decoder.next() { out.append(f) }
        }
        #expect(decoder.bufferedBytes == 0)
        return out
    }

    @Test("a session in one piece")
    func whole() throws {
        #expect(try Self.decodeAll([Self.session]) == Self.frames)
    }

    @Test("a session split at every offset, and byte by byte", arguments: [1, 2, 3, 5, 7, 64])
    func split(chunk: Int) throws {
        var chunks: [[UInt8]] = []
        var i = 0
        while i < Self.session.count {
            chunks.append(Array(Self.session[i..<min(Self.session.count, i + chunk)]))
            i += chunk
        }
        #expect(try Self.decodeAll(chunks) == Self.frames)
        for cut in 0...Self.session.count {
            #expect(try Self.decodeAll([Array(Self.session[..<cut]), Array(Self.session[cut...])]) == Self.frames)
        }
    }

    @Test("a frame not yet complete is not returned")
    func partial() throws {
        var decoder = FrameStreamDecoder()
        decoder.append(Wire.dataFrame([1, 2, 3, 4]).dropLast())
        #expect(try decoder.next() == nil)
        decoder.append([4])
        #expect(try decoder.next() == .data([1, 2, 3, 4]))
        #expect(try decoder.next() == nil)
    }

    @Test("control frames encode as fstrm lays them out")
    func controlEncoding() throws {
        let accept = FrameStreamControl.accept().encoded()
        let type = Array("protobuf:dnstap.Dnstap".utf8)
        #expect(accept == [0, 0, 0, 0] + Wire.be32(UInt32(12 + type.count)) + Wire.be32(1) + Wire.be32(1) + Wire.be32(22) + type)
        #expect(FrameStreamControl.finish.encoded() == [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 5])
        for kind in FrameStreamControl.Kind.allCases {
            let c = FrameStreamControl(kind, contentTypes: kind == .finish || kind == .stop ? [] : [type])
            #expect(try Self.decodeAll([c.encoded()]) == [.control(c)])
        }
        #expect(FrameStreamControl.accept().offers(FrameStreamControl.dnstapContentType))
        #expect(!FrameStreamControl.finish.offers(FrameStreamControl.dnstapContentType))
    }

    @Test("a data frame over the maximum throws before it is buffered, and the decoder stays failed")
    func oversize() throws {
        var decoder = FrameStreamDecoder(maximumFrameSize: 100)
        decoder.append(Wire.be32(101))
        #expect(throws: DnstapError(.frameTooLarge)) { try decoder.next() }
        decoder.append(Wire.dataFrame([1]))
        #expect(throws: DnstapError(.frameTooLarge)) { try decoder.next() }
        // Exactly the maximum is fine.
        #expect(try Self.decodeAll([Wire.dataFrame(Array(repeating: 0, count: 100))], maximumFrameSize: 100).count == 1)
        // A control frame over fstrm's 512 bytes, too.
        var control = FrameStreamDecoder()
        control.append([0, 0, 0, 0] + Wire.be32(513))
        #expect(throws: DnstapError(.frameTooLarge)) { try control.next() }
    }

    @Test(
        "malformed control frames throw",
        arguments: [
            [0, 0, 0, 0, 0, 0, 0, 0] as [UInt8], // no type
            [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9], // unknown type
            [0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 1], // field header cut
            [0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9], // field longer than the frame
            [0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 1, 65], // unknown field type
            [0, 0, 0, 0, 0, 0, 1, 13] + Wire.be32(4) + Wire.be32(1) + Wire.be32(257) + Array(repeating: 65, count: 257),
            FrameStreamControl(.start, contentTypes: [[65], [66]]).encoded(), // START with two types
        ]
    )
    func badControl(bytes: [UInt8]) throws {
        #expect(throws: DnstapError(.badControlFrame)) { try Self.decodeAll([bytes]) }
    }

    @Test("seeded random bytes never trap")
    func garbage() {
        var seed: UInt64 = 0x5EED
        for _ in 0..<2000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var bytes: [UInt8] = []
            for k in 0..<Int(seed >> 58) { bytes.append(UInt8(truncatingIfNeeded: seed >> UInt64(k % 56))) }
            var decoder = FrameStreamDecoder(maximumFrameSize: 64)
            decoder.append(bytes)
            while let frame = try? decoder.next() {
                if case .data(let payload) = frame { _ = try? ResolverEvent.decode(payload) }
            }
        }
    }
}

/// The reader's side of the handshake.
@Suite struct FrameStreamReaderTests {
    let type = Array(FrameStreamControl.dnstapContentType.utf8)

    @Test("bidirectional: READY → ACCEPT, START, data, STOP → FINISH and close")
    func bidirectional() throws {
        var reader = FrameStreamReader()
        #expect(
            try reader.receive(.control(FrameStreamControl(.ready, contentTypes: [[1], type]))) == [
                .reply(FrameStreamControl.accept().encoded())
            ])
        #expect(!reader.isStarted)
        #expect(try reader.receive(.control(FrameStreamControl(.start, contentTypes: [type]))) == [])
        #expect(reader.isStarted)
        #expect(try reader.receive(.data([7])) == [.deliver([7])])
        #expect(try reader.receive(.control(FrameStreamControl(.stop))) == [.reply(FrameStreamControl.finish.encoded()), .close])
        #expect(throws: DnstapError(.protocolViolation)) { try reader.receive(.data([7])) }
    }

    @Test("unidirectional: START without a type, data, STOP → close without FINISH")
    func unidirectional() throws {
        var reader = FrameStreamReader()
        #expect(try reader.receive(.control(FrameStreamControl(.start))) == [])
        #expect(try reader.receive(.data([1])) == [.deliver([1])])
        #expect(try reader.receive(.control(FrameStreamControl(.stop))) == [.close])
    }

    @Test("frames out of order and foreign content types are refused")
    func refused() throws {
        var a = FrameStreamReader()
        #expect(throws: DnstapError(.protocolViolation)) { try a.receive(.data([1])) }
        var b = FrameStreamReader()
        #expect(throws: DnstapError(.unsupportedContentType)) {
            try b.receive(.control(FrameStreamControl(.ready, contentTypes: [Array("protobuf:other".utf8)])))
        }
        var c = FrameStreamReader()
        #expect(throws: DnstapError(.unsupportedContentType)) {
            try c.receive(.control(FrameStreamControl(.start, contentTypes: [Array("protobuf:other".utf8)])))
        }
        var d = FrameStreamReader()
        _ = try d.receive(.control(FrameStreamControl(.ready, contentTypes: [type])))
        #expect(throws: DnstapError(.protocolViolation)) { try d.receive(.control(FrameStreamControl(.ready, contentTypes: [type]))) }
        var e = FrameStreamReader()
        #expect(throws: DnstapError(.protocolViolation)) { try e.receive(.control(FrameStreamControl(.stop))) }
    }
}
