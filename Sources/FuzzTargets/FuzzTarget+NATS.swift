import NATSWire
import NIOCore

extension FuzzTarget {
    /// Bounds of the `nats-wire` parser: smaller than the client's, so that the fuzzer reaches them.
    static let natsLimits = NATSParser.Limits(maxControlLine: 1024, maxPayload: 4096, maxHeaderBytes: 1024)
    static let natsMaximumOperations = 256

    /// A NATS server's byte stream. Byte 0 picks the size of the pieces the rest arrives in (1 to
    /// 255 bytes; 0: all at once). Parsed whole and in those pieces, as the client's read loop
    /// parses it: the operations must be the same, and so must whether the stream ends in an
    /// error. Each message's header block is written again and read again to the same headers;
    /// its reply subject is read as a JetStream ack subject and its payload as a JetStream answer
    /// (which may fail, never trap).
    static func natsWire(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let input = Array(bytes.dropFirst().prefix(65_536))
        let size = bytes[0] == 0 ? max(1, input.count) : Int(bytes[0])
        let parser = NATSParser(limits: natsLimits)

        var whole = ByteBuffer(bytes: input)
        let (wholeOperations, wholeFailed) = natsParse(parser, &whole)

        var buffer = ByteBuffer()
        var operations: [NATSServerOperation] = []
        var failed = false
        var start = 0
        while start < input.count, !failed, operations.count < natsMaximumOperations {
            let end = min(input.count, start + size)
            buffer.writeBytes(input[start..<end])
            let (more, error) = natsParse(parser, &buffer)
            operations += more
            failed = error
            start = end
        }
        precondition(Array(operations.prefix(natsMaximumOperations)) == Array(wholeOperations.prefix(natsMaximumOperations)))
        if operations.count < natsMaximumOperations && wholeOperations.count < natsMaximumOperations {
            precondition(failed == wholeFailed)
        }

        for case .message(let message) in wholeOperations {
            precondition(message.payload.readableBytes <= natsLimits.maxPayload)
            if let headers = message.headers {
                var block = ByteBuffer()
                if (try? headers.write(into: &block)) != nil {
                    precondition((try? NATSHeaders.decode(block.readableBytesView)) == headers)
                }
            }
            if let reply = message.replyTo, let metadata = try? JetStreamAckMetadata(parsing: reply) {
                precondition(!metadata.stream.isEmpty && !metadata.consumer.isEmpty)
            }
            _ = try? JetStreamAPI.decode(JetStreamPublishAck.self, from: message.payload)
            _ = try? JetStreamAPI.decode(JetStreamStreamInfo.self, from: message.payload)
        }
    }

    /// The operations at the front of `buffer`, and whether parsing stopped at an error.
    static func natsParse(_ parser: NATSParser, _ buffer: inout ByteBuffer) -> ([NATSServerOperation], Bool) {
        var out: [NATSServerOperation] = []
        while out.count < natsMaximumOperations {
            do {
                guard let operation = try parser.next(from: &buffer) else { return (out, false) }
                out.append(operation)
            } catch {
                return (out, true)
            }
        }
        return (out, false)
    }
}
