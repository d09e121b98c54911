import FlowCodec
import MamoriCore
import NIOCore
import SinkholeProbe

/// One connection to the sinkhole, on its event loop: collects the first bytes, probes them,
/// reports the contact once, answers HTTP with the 403 page and closes.
final class SinkholeConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Each probe reads all the bytes so far. Probes run on every read until they have read this
    /// many times the byte cap in all (enough for a ClientHello of about 700 bytes arriving one
    /// byte at a time); after that only when the bytes have doubled or filled the cap, so that a
    /// client dripping bytes costs a bounded amount of work, not O(n²).
    static let probeBudget = 16
    /// Bytes read and dropped after the 403 page before the connection is closed anyway.
    static let maximumDrain = 65536

    private enum Phase {
        case probing
        case lingering(drained: Int)
        case done
    }

    private let listener: SinkholeListener
    private let admitted: Bool
    private var phase = Phase.probing
    private var received: [UInt8] = []
    private var probeWork = 0
    private var probedAt = 0
    private var timer: Scheduled<Void>?
    private var client = IPAddress.unspecifiedV4
    private var clientPort = 0
    private var localPort = 0
    private var acceptedAt: Int64 = 0

    init(listener: SinkholeListener, admitted: Bool) {
        self.listener = listener
        self.admitted = admitted
    }

    func channelActive(context: ChannelHandlerContext) {
        acceptedAt = listener.clock.milliseconds
        if let remote = context.channel.remoteAddress {
            client = remote.ipAddress.flatMap { IPAddress($0) } ?? .unspecifiedV4
            clientPort = remote.port ?? 0
        }
        localPort = context.channel.localAddress?.port ?? 0
        guard admitted else {
            phase = .done
            listener.report(contact(protocol: .noneSent, problem: .tooManyConnections))
            context.close(promise: nil)
            return
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: SinkholeListener.timeAmount(listener.configuration.firstBytesTimeout)) {
            self.timedOut(context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        switch phase {
        case .probing:
            let room = listener.maximumBytes - received.count
            if room > 0 { received += chunk.readableBytesView.prefix(room) }
            let full = received.count >= listener.maximumBytes
            let withinBudget = probeWork + received.count <= Self.probeBudget * listener.maximumBytes
            guard withinBudget || received.count >= 2 * probedAt || full else { return }
            probeWork += received.count
            probedAt = received.count
            let result = SinkholeProbe.examine(received, maximumBytes: listener.maximumBytes)
            if case .incomplete = result { return }
            finish(context: context, result: result, ending: .decided)
        case .lingering(let drained):
            let total = drained + chunk.readableBytes
            phase = .lingering(drained: total)
            if total > Self.maximumDrain { close(context: context) }
        case .done:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .probing = phase {
            finish(context: context, result: examine(), ending: .closedByClient)
        }
        phase = .done
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or another socket error: the connection ends here (channelInactive reports it).
        context.close(promise: nil)
    }

    private func examine() -> SinkholeProbeResult { SinkholeProbe.examine(received, maximumBytes: listener.maximumBytes) }

    private func timedOut(context: ChannelHandlerContext) {
        timer = nil
        switch phase {
        case .probing:
            finish(context: context, result: examine(), ending: .timedOut)
        case .lingering:
            close(context: context)
        case .done:
            break
        }
    }

    private func contact(protocol kind: SinkholeProtocol, problem: SinkholeContact.Problem?) -> SinkholeContact {
        SinkholeContact(
            client: client, clientPort: clientPort, localPort: localPort, milliseconds: acceptedAt, protocol: kind,
            receivedBytes: received.count, problem: problem)
    }

    /// Reports the contact, then answers and closes.
    private func finish(context: ChannelHandlerContext, result: SinkholeProbeResult, ending: SinkholeContact.Ending) {
        timer?.cancel()
        timer = nil
        let reported = SinkholeContact(
            client: client, clientPort: clientPort, localPort: localPort, milliseconds: acceptedAt, received: received.count,
            result: result, ending: ending)
        received = []
        listener.report(reported)
        guard case .http(let request) = result, context.channel.isActive else {
            close(context: context)
            return
        }
        phase = .lingering(drained: 0)
        let page = request.method == "HEAD" ? listener.page.head : listener.page.full
        var buffer = context.channel.allocator.buffer(capacity: page.count)
        buffer.writeBytes(page)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            guard case .lingering = self.phase else { return }
            context.close(mode: .output, promise: nil)
            self.timer = context.eventLoop.assumeIsolated().scheduleTask(
                in: SinkholeListener.timeAmount(self.listener.configuration.lingerTimeout)
            ) {
                self.timedOut(context: context)
            }
        }
    }

    private func close(context: ChannelHandlerContext) {
        phase = .done
        timer?.cancel()
        timer = nil
        context.close(promise: nil)
    }
}
