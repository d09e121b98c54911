import FlowCodec
import MamoriCore

extension FlowCollector {
    /// What the collector listens on and how it protects itself.
    public struct Configuration: Sendable {
        /// UDP endpoints. Any protocol is accepted on any port (the version field tells them apart);
        /// the defaults are the customary ports: 2055 NetFlow, 4739 IPFIX, 6343 sFlow, on IPv4 and IPv6.
        public var listen: [SocketEndpoint]
        /// Requested socket receive buffer (SO_RCVBUF); the kernel caps it at net.core.rmem_max.
        public var receiveBufferBytes: Int
        /// Largest datagram accepted without truncation.
        public var maxDatagramBytes: Int
        /// Datagrams read per system call (recvmmsg).
        public var datagramsPerRead: Int
        /// Decoded batches (up to 2,048 records, 320 KiB, each) that may wait for the sinks;
        /// beyond this, new batches are dropped and counted.
        public var queueCapacity: Int
        /// Decoder limits, template timeout and per-exporter sampling overrides.
        public var decoder: FlowDecoder.Configuration
        /// Where templates are persisted across restarts; `nil` keeps them in memory only.
        public var templateFile: String?
        /// How often templates are written to ``templateFile``.
        public var templatePersistIntervalSeconds: Int
        /// Minimum seconds between two log lines about the same exporter and error kind.
        public var errorLogIntervalSeconds: Int

        public init(
            listen: [SocketEndpoint] = Configuration.defaultListen,
            receiveBufferBytes: Int = 32 << 20,
            maxDatagramBytes: Int = 9216,
            datagramsPerRead: Int = 32,
            queueCapacity: Int = 1024,
            decoder: FlowDecoder.Configuration = Configuration.defaultDecoder,
            templateFile: String? = nil,
            templatePersistIntervalSeconds: Int = 60,
            errorLogIntervalSeconds: Int = 60
        ) {
            self.listen = listen
            self.receiveBufferBytes = receiveBufferBytes
            self.maxDatagramBytes = maxDatagramBytes
            self.datagramsPerRead = datagramsPerRead
            self.queueCapacity = queueCapacity
            self.decoder = decoder
            self.templateFile = templateFile
            self.templatePersistIntervalSeconds = templatePersistIntervalSeconds
            self.errorLogIntervalSeconds = errorLogIntervalSeconds
        }

        /// The decoder's defaults, with the live time window (``FlowTimeWindow/live``): a collector
        /// receives records as they are made, so flows far from this machine's clock are refused.
        public static var defaultDecoder: FlowDecoder.Configuration {
            var d = FlowDecoder.Configuration()
            d.timeWindow = .live
            return d
        }

        public static let defaultListen: [SocketEndpoint] = [2055, 4739, 6343].flatMap { port in
            [SocketEndpoint(host: "0.0.0.0", port: port), SocketEndpoint(host: "::", port: port)]
        }
    }
}
