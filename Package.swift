// swift-tools-version:6.1
import PackageDescription

/// Settings shared by every target: Swift 6 language mode with strict concurrency,
/// `any` spelled out for existentials, and imports that must name the module a member comes from.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mamori",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mamori", targets: ["mamori"]),
        .library(name: "FlowCodec", targets: ["FlowCodec"]),
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Bytes → typed flow records: the wire decoding of NetFlow v5/v9, IPFIX and sFlow, and the
        // values every stage shares (FlowRecord, IPAddress). No sockets, clocks, loggers or globals: NIOCore only.
        .target(
            name: "FlowCodec",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Flow data as files, read offline: pcap captures (and their writer), nfdump/nfcapd files,
        // Argus binetflow, Zeek conn.log. Pure: bytes or text in, flow records out. FlowCodec only.
        .target(
            name: "FlowFiles",
            dependencies: ["FlowCodec"],
            swiftSettings: swiftSettings
        ),
        // What a carrier's identity systems say: RADIUS accounting packets, FreeRADIUS detail files,
        // ISC Kea lease files, CGNAT port-block syslog lines. Pure: no sockets, clocks or files.
        .target(
            name: "IdentityCodec",
            dependencies: ["FlowCodec", "MamoriCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Domain values and configuration of the product; no NIO channels, no SQL.
        .target(
            name: "MamoriCore",
            dependencies: ["FlowCodec", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Flow records → export datagrams (NetFlow v5/v9, IPFIX, sFlow v5, RFC 8158 NAT events), as a
        // router or CGNAT box sends them; beside the simulator, for it, benchmarks and tests. FlowCodec only.
        .target(
            name: "FlowEncoding",
            dependencies: ["FlowCodec"],
            swiftSettings: swiftSettings
        ),
        // DNS wire format by hand (RFC 1035 messages, name compression, RFC 1982 serials, RFC 8945
        // TSIG): for the RPZ sinkhole's zone transfers and NOTIFYs. Pure: no sockets, clocks or files.
        .target(
            name: "DNSWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The DNS sinkhole as values: the policy and its guards, RPZ zones, serials and the IXFR journal, zone transfer answers. Pure.
        .target(
            name: "RPZ",
            dependencies: ["DNSWire", "FlowCodec"],
            swiftSettings: swiftSettings
        ),
        // BGP-4 messages by hand (RFC 4271 with 4-octet AS numbers, RFC 6793; multiprotocol, RFC 4760;
        // FlowSpec for IPv4 and IPv6, RFC 8955/8956; route refresh, RFC 2918): no BGP codec is among
        // the Swift packages available. Encoding, strict decoding with the NOTIFICATION each error
        // calls for, and the session's state machine as values. Pure: no sockets, clocks or files.
        .target(
            name: "BGPWire",
            dependencies: ["FlowCodec", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Mitigations as values: RTBH and FlowSpec rules planned from findings, the safety rails
        // (protected prefixes, minimum lengths, caps, rate, modes, kill switch), time-to-live. Pure.
        .target(
            name: "Mitigation",
            dependencies: ["FlowCodec", "MamoriCore", "Lawful"],
            swiftSettings: swiftSettings
        ),
        // STIX 2.1 as values: the object model and a lossless JSON codec, TLP 2.0 markings,
        // name-based ids, patterns (written, and parsed and evaluated for import), the export
        // builder, the STIX and MISP feed importers, and the sharing guard every export passes. Pure.
        .target(
            name: "STIX",
            dependencies: ["FlowCodec", "MamoriCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Reports from outside (issue 23): Shadowserver CSV, NOTICE-style and mapped CSV/JSON
        // feeds, ARF and X-ARF complaints, report mails (MIME) and zip attachments, as typed
        // reports with every row's fate. Pure: bytes in (zip containers read by hand, inflated by zlib through compress-nio).
        .target(
            name: "Reports",
            dependencies: [
                "FlowCodec", "MamoriCore", .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // IP telephony (issue 24): call records from Asterisk, Kamailio and a carrier's CSV, what
        // was dialled normalised to E.164, and the number plan (the shipped ITU table and a
        // carrier's own rows) that says which country and which kind of range a number is in. Pure.
        .target(
            name: "Telephony",
            dependencies: ["MamoriCore"],
            resources: [.copy("Resources/e164-prefixes.tsv")],
            swiftSettings: swiftSettings
        ),
        // IRSF detection (issue 24): hijacked lines found in their calls (bursts, high-cost and new
        // ranges, range sweeps, concurrency, off-hours, test calls), each destination range's fraud
        // share, and temporary block rules with their modes, exemptions and rails. Pure.
        .target(
            name: "FraudDetection",
            dependencies: ["Telephony", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        // Files followed as they grow (tail -F): the call-record logs of issue 24, with rotation and
        // the position in each file kept across restarts. Adapter.
        .target(
            name: "FileTail",
            dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // TAXII 2.1 as values: the resources, media types, the filters and paging over a
        // collection's object versions, the checks on posted envelopes. Pure (no I/O, no clock).
        .target(
            name: "TAXII",
            swiftSettings: swiftSettings
        ),
        // The query engine's filters, paging and version semantics, envelopes and hostile input.
        .testTarget(
            name: "TAXIITests",
            dependencies: ["TAXII"],
            swiftSettings: swiftSettings
        ),
        // The BGP speaker's network side: TCP sessions with the configured neighbours (timers,
        // reconnect with back-off, TCP MD5), announcing and withdrawing the routes it is given. An adapter.
        .target(
            name: "BGPSpeaker",
            dependencies: [
                "BGPWire", "FlowCodec", "MamoriCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The BGP codec: round trips, RFC examples, every decoding error's NOTIFICATION code.
        .testTarget(
            name: "BGPWireTests",
            dependencies: ["BGPWire", "FlowCodec", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The mitigation planner and its rails.
        .testTarget(
            name: "MitigationTests",
            dependencies: ["Mitigation", "FlowCodec", "MamoriCore", "Lawful"],
            swiftSettings: swiftSettings
        ),
        // STIX: fixtures round trip, patterns, ids, the export (checked by the OASIS validator), importers, the guard.
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "FlowCodec", "MamoriCore", "MamoriTesting"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // Telephony: the number plan and dialling rules, the CDR formats and their bad lines.
        .testTarget(
            name: "TelephonyTests",
            dependencies: ["Telephony", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FraudDetectionTests",
            dependencies: ["FraudDetection", "Telephony", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "STIXTests",
            dependencies: ["STIX", "FlowCodec", "MamoriCore", "MamoriTesting"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // The speaker against real BGP daemons on loopback: BIRD 2 and GoBGP.
        .testTarget(
            name: "BGPSpeakerTests",
            dependencies: [
                "BGPSpeaker", "BGPWire", "FlowCodec", "MamoriCore", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The RPZ sinkhole's network side: a DNS-over-TCP/UDP server for resolvers' zone transfers (answers come from a responder it is given) and the NOTIFY sender. An adapter.
        .target(
            name: "ZoneTransfer",
            dependencies: [
                "DNSWire", "FlowCodec", "MamoriCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The NATS client protocol by hand (https://docs.nats.io/reference/reference-protocols/nats-protocol):
        // server operations read incrementally with bounded frames, client operations written, and
        // the JetStream API's JSON shapes and ack subjects. No NATS client is among the Swift packages
        // available. Pure: no sockets, clocks or files.
        .target(
            name: "NATSWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // A NATS and JetStream client on SwiftNIO: connect, publish, subscribe, request/reply,
        // reconnect across a server list; streams, durable pull consumers, acked publishes, fetch and ack. An adapter.
        .target(
            name: "NATSClient",
            dependencies: [
                "NATSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The cluster's flow bus, pure: the compact batch layout of flow records on NATS and the
        // partitioning by subscriber host (the same split as the detector workers of one process).
        .target(
            name: "FlowBus",
            dependencies: ["FlowCodec", "Detection", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The cluster roles' adapter: the collector's publisher to JetStream and the detector's
        // partition consumers (issue 25).
        .target(
            name: "ClusterBus",
            dependencies: [
                "FlowBus", "FlowCodec", "Collector", "NATSClient", "NATSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The batch layout round-trips every field (hostile values too) and refuses what breaks it.
        .testTarget(
            name: "FlowBusTests",
            dependencies: ["FlowBus", "FlowCodec", "Detection", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The publisher and consumers against a real nats-server.
        .testTarget(
            name: "ClusterBusTests",
            dependencies: [
                "ClusterBus", "FlowBus", "FlowCodec", "Collector", "NATSClient", "NATSWire", "MamoriTesting", "Detection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The NATS codec: every operation, fragmentation at every byte, malformed input, bounds, JetStream shapes.
        .testTarget(
            name: "NATSWireTests",
            dependencies: ["NATSWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The client against the real nats-server (Debian's 2.9.10): core NATS, JetStream, a cluster of three.
        .testTarget(
            name: "NATSClientTests",
            dependencies: [
                "NATSClient", "NATSWire", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The zone transfer server and NOTIFY sender against real secondaries: Unbound (rpz:) and BIND 9 (response-policy, TSIG).
        .testTarget(
            name: "ZoneTransferTests",
            dependencies: [
                "ZoneTransfer", "RPZ", "DNSWire", "FlowCodec", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What a client's first bytes on the sinkhole ask for: an HTTP request's Host or a TLS
        // ClientHello's server name, strictly bounded; the SinkholeContact value. Pure.
        .target(
            name: "SinkholeProbe",
            dependencies: ["FlowCodec"],
            swiftSettings: swiftSettings
        ),
        // The sinkhole's listener: the TCP ports C&C names are rewritten to, one contact per
        // connection, a fixed 403 page to HTTP and nothing to TLS. An adapter.
        .target(
            name: "SinkholeListener",
            dependencies: [
                "SinkholeProbe", "FlowCodec", "MamoriCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP requests and ClientHellos (captured from curl and OpenSSL, RFC 8448's), truncated and hostile bytes.
        .testTarget(
            name: "SinkholeProbeTests",
            dependencies: ["SinkholeProbe", "FlowCodec", "MamoriTesting", "MamoriCore"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        // The listener on loopback against curl and openssl s_client: contacts, the 403, limits.
        .testTarget(
            name: "SinkholeListenerTests",
            dependencies: [
                "SinkholeListener", "SinkholeProbe", "FlowCodec", "MamoriCore", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // A simulated access network with ground truth: subscribers, devices, botnets, exports.
        .target(
            name: "Simulator",
            dependencies: ["FlowCodec", "FlowEncoding", "MamoriCore", "IdentityCodec", "Telephony"],
            swiftSettings: swiftSettings
        ),
        // Flow records → findings: beacon, indicator, scan and DDoS detectors. No I/O, no clock.
        .target(
            name: "Detection",
            dependencies: ["FlowCodec", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        // (address, port?, time) → subscriber: the interval index over RADIUS sessions, DHCP leases,
        // CGNAT translations (logged and RFC 7422 deterministic) and static assignments. Pure.
        .target(
            name: "Attribution",
            dependencies: ["FlowCodec", "IdentityCodec", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        // The legal frame as code: consent registry state, the carrier's policy, the legal-basis
        // engine, cases and the hash-chained audit record. Pure: no sockets, clocks or files.
        .target(
            name: "Lawful",
            dependencies: ["MamoriCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The case life cycle as a pure step function: (case, event, time) → (case, actions).
        .target(
            name: "CaseWorkflow",
            dependencies: ["Lawful", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        // Operator accounts (issue 19): roles and permissions, password hashing (bcrypt), machine
        // tokens, browser sessions, login throttling and the login/token workflow as pure step
        // functions that return actions; the AccountStore protocol. No I/O, no clock.
        .target(
            name: "Accounts",
            dependencies: [
                "MamoriCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // The analysts' console: pages from bundled Mustache templates, SVG charts, Japanese and English.
        .target(
            name: "Console",
            dependencies: ["Accounts", "Lawful", "MamoriCore", .product(name: "Mustache", package: "swift-mustache")],
            resources: [.copy("Templates"), .copy("Static")],
            swiftSettings: swiftSettings
        ),
        // Identity data arriving over the network: the RADIUS accounting server (SwiftNIO UDP).
        .target(
            name: "IdentityListeners",
            dependencies: [
                "FlowCodec", "IdentityCodec", "MamoriCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // The abuse mailbox: a Maildir the carrier's MTA delivers into, followed (Foundation's files only).
        .target(
            name: "ReportMailbox",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // A resolver's query log: Frame Streams (fstrm) framing and dnstap protobuf events → ResolverEvent
        // (client, question, answers). Pure: bytes in, values out; the protobuf code is generated once and committed.
        .target(
            name: "Dnstap",
            dependencies: ["DNSWire", "FlowCodec", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/README.md", "Generated/dnstap.proto"],
            swiftSettings: swiftSettings
        ),
        // The dnstap receiver: a bidirectional Frame Streams server (SwiftNIO, Unix socket or loopback TCP) as a Service.
        .target(
            name: "DnstapListener",
            dependencies: [
                "Dnstap", "MamoriCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What Mamori keeps: findings in an embedded SQLite database (GRDB), behind Detection's
        // FindingStore, and the hash-chained audit log on disk.
        .target(
            name: "Storage",
            dependencies: [
                "Accounts", "Detection", "Lawful", "MamoriCore", "TAXII", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL as the shared store (the cluster issue): the connection configuration and its
        // URL, versioned schema migrations under an advisory lock, and the stores on postgres-nio. An adapter.
        .target(
            name: "PostgresStorage",
            dependencies: [
                "MamoriCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL stores against a real server started per test, and the store contract
        // (the same questions asked of the in-memory, SQLite and PostgreSQL stores).
        .testTarget(
            name: "PostgresStorageTests",
            dependencies: [
                "PostgresStorage", "Storage", "MamoriCore", "MamoriTesting", "FlowCodec",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Findings scored against a simulator's ground truth (precision, recall, time to detect).
        .target(
            name: "Evaluation",
            dependencies: [
                "Detection", "Simulator", "FlowCodec", "FlowFiles", "MamoriCore", "Telephony", "FraudDetection",
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // recvmmsg(2) for the collector's receive loop (a GNU extension Swift's Glibc does not expose).
        .target(
            name: "CMamoriUDP",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // UDP listeners, bounded hand-off queue, per-exporter accounting, template persistence.
        .target(
            name: "Collector",
            dependencies: [
                "FlowCodec", "MamoriCore", "CMamoriUDP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Without MemberImportVisibility: the socket structs (sockaddr_in …) that the receive loop
            // uses are attributed by the compiler to SwiftNIO's internal C module, which cannot be imported.
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // The one composition root: configuration file, HTTP (/healthz, /metrics), services.
        .target(
            name: "Server",
            dependencies: [
                "ClusterBus", "FlowBus", "NATSClient", "NATSWire",
                "Reports", "ReportMailbox", "Telephony", "FraudDetection", "FileTail", "KamailioControl",
                "Accounts", "FlowCodec", "MamoriCore", "Collector", "Detection", "Storage", "Attribution", "IdentityCodec",
                "IdentityListeners", "Lawful", "CaseWorkflow", "Notify", "Console", "DNSWire", "RPZ", "ZoneTransfer", "Dnstap",
                "DnstapListener", "SinkholeProbe", "SinkholeListener", "BGPWire", "BGPSpeaker", "Mitigation", "TAXII", "STIX",
                "TAXIIClient", "PostgresStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        // What the coverage-guided fuzzers (Fuzz/, libFuzzer) and the corpus replay test run: each
        // parser of outside input, then the stages after it. Built with everything else so it cannot rot.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Accounts", "DNSWire", "Dnstap", "FlowCodec", "FlowFiles", "IdentityCodec", "Attribution", "Detection", "Lawful",
                "MamoriCore", "RPZ", "SinkholeProbe", "BGPWire", "STIX", "TAXII", "Reports", "Telephony", "FraudDetection", "NATSWire",
                "FlowBus",
                .product(name: "NIOCore", package: "swift-nio"), "Server",
            ],
            swiftSettings: swiftSettings
        ),
        // The pipeline `mamori analyze` runs, as a function: flow files (pcap, nfcapd, binetflow, Zeek)
        // → detectors → findings, statistics and, with ground truth, their evaluation. Prints nothing.
        .target(
            name: "OfflineAnalysis",
            dependencies: ["FlowCodec", "FlowFiles", "MamoriCore", "Detection", "Evaluation", "Simulator"],
            swiftSettings: swiftSettings
        ),
        // The measurements behind BENCHMARKS.md (`mamori bench …`): synthetic input through the real components.
        .target(
            name: "Benchmarking",
            dependencies: [
                "FlowCodec", "FlowEncoding", "MamoriCore", "Detection", "Evaluation", "Attribution", "IdentityCodec", "IdentityListeners",
                "RPZ", "DNSWire", "Dnstap",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Requests to a running `mamori serve`'s HTTP API (async-http-client): whois, consent import.
        .target(
            name: "APIClient",
            dependencies: [
                "MamoriCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A sharing peer's TAXII 2.1 collection (an ISAC's hub): read page by page from a bookmark,
        // add objects, read status (async-http-client). Objects stay opaque JSON. An adapter.
        .target(
            name: "TAXIIClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The IRSF block rules' way into the carrier's softswitch (issue 24): writes Kamailio's
        // db_text tables (mtree of blocked prefixes, htable of exempt accounts) atomically, reloads
        // them over Kamailio's JSON-RPC (xhttp + jsonrpcs) and reads back what Kamailio loaded. An adapter.
        .target(
            name: "KamailioControl",
            dependencies: [
                "MamoriCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The publisher against a real Kamailio 5.6 and SIPp calls on loopback; the db_text rendering
        // and validation without them. Kamailio's accounting log is read back through Telephony's reader.
        .testTarget(
            name: "KamailioControlTests",
            dependencies: [
                "KamailioControl", "MamoriCore", "MamoriTesting", "Telephony",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // Connected UDP sockets for `mamori replay` and `mamori simulate`: export datagrams, RADIUS accounting.
        .target(
            name: "Senders",
            dependencies: ["MamoriCore", "IdentityCodec"],
            swiftSettings: swiftSettings
        ),
        // Test support shipped as a library: fixture loading, peer launchers.
        .target(
            name: "MamoriTesting",
            dependencies: [
                "Accounts", "FlowCodec", "FlowFiles", "MamoriCore", "Lawful",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "mamori",
            dependencies: [
                "ClusterBus", "NATSClient",
                "Telephony", "FraudDetection",
                "Reports",
                "FlowCodec", "FlowEncoding", "FlowFiles", "MamoriCore", "Collector", "Server", "Simulator", "Detection", "Evaluation",
                "IdentityCodec", "Attribution", "IdentityListeners",
                "Lawful", "Storage", "OfflineAnalysis", "Benchmarking", "APIClient", "Senders", "Accounts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlowCodecTests",
            dependencies: ["FlowCodec", "FlowFiles", "MamoriCore", "MamoriTesting", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlowFilesTests",
            dependencies: ["FlowFiles", "FlowCodec", "MamoriCore", "MamoriTesting"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        // The DNS wire format: round trips, compression, every bound, TSIG, dnspython's vectors.
        .testTarget(
            name: "DNSWireTests",
            dependencies: ["DNSWire", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["make-vectors.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlowEncodingTests",
            dependencies: ["FlowEncoding", "FlowCodec"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DetectionTests",
            dependencies: ["Detection", "Evaluation", "FlowCodec", "FlowFiles", "MamoriCore", "MamoriTesting", "Simulator"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OfflineAnalysisTests",
            dependencies: [
                "OfflineAnalysis", "Detection", "Evaluation", "FlowCodec", "FlowEncoding", "FlowFiles", "MamoriCore", "Simulator",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TAXIIClientTests",
            dependencies: [
                "TAXIIClient", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIClientTests",
            dependencies: [
                "APIClient", "MamoriCore", "MamoriTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: [
                "Simulator", "FlowCodec", "FlowEncoding", "FlowFiles", "MamoriCore", "MamoriTesting", "IdentityCodec", "Attribution",
                "DNSWire", "Telephony",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AttributionTests",
            dependencies: ["Attribution", "IdentityCodec", "FlowCodec", "Simulator", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IdentityListenersTests",
            dependencies: [
                "IdentityListeners", "IdentityCodec", "FlowCodec", "MamoriCore", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Frame Streams decoding and control frames, dnstap events, the DNS messages inside them.
        .testTarget(
            name: "DnstapTests",
            dependencies: ["Dnstap", "DNSWire", "FlowCodec", "MamoriTesting", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        // The dnstap listener over a real socket, fed by a real Unbound resolver.
        .testTarget(
            name: "DnstapListenerTests",
            dependencies: [
                "DnstapListener", "Dnstap", "FlowCodec", "MamoriCore", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LawfulTests",
            dependencies: ["Lawful", "IdentityCodec", "Storage", "MamoriCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // The SQLite stores, the audit log on disk, key files and the data directory.
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "Accounts", "Lawful", "MamoriCore", "MamoriTesting", "TAXII", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The console's pages, charts and texts, rendered without a server.
        .testTarget(
            name: "ConsoleTests",
            dependencies: ["Console", "Accounts", "Lawful", "MamoriCore"],
            swiftSettings: swiftSettings
        ),
        // Operator accounts: roles, password policy, tokens, sessions, throttling, the workflow's actions.
        .testTarget(
            name: "AccountsTests",
            dependencies: ["Accounts", "MamoriCore", "MamoriTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CaseWorkflowTests",
            dependencies: ["CaseWorkflow", "Lawful", "MamoriCore", "MamoriTesting"],
            swiftSettings: swiftSettings
        ),
        // The sinkhole: guards, zone rendering, journal, AXFR/IXFR answers parsed back and TSIG-verified.
        .testTarget(
            name: "RPZTests",
            dependencies: ["RPZ", "DNSWire", "FlowCodec"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IdentityCodecTests",
            dependencies: ["IdentityCodec", "FlowCodec"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CollectorTests",
            dependencies: [
                "FlowCodec", "FlowEncoding", "MamoriCore", "Collector", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        // The composition root: configuration, the whole application (buildApplication) and its
        // HTTP API, the server's services (attribution, detection, lawful, cases), durability.
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "FlowCodec", "MamoriCore", "MamoriTesting", "Collector", "Detection", "Storage", "Attribution", "IdentityCodec",
                "ReportMailbox",
                "IdentityListeners", "Lawful", "CaseWorkflow", "FlowEncoding", "Notify", "Accounts", "RPZ", "DNSWire", "Mitigation",
                "BGPWire", "BGPSpeaker", "TAXII", "Reports", "Telephony", "FraudDetection", "KamailioControl", "PostgresStorage",
                "ClusterBus", "NATSClient", "NATSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fuzzers' kept corpus and past crashes, replayed through FuzzTargets.
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: ["FuzzTargets"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MamoriCoreTests",
            dependencies: ["MamoriCore", "FlowCodec"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EvaluationTests",
            dependencies: ["Evaluation", "Detection", "FlowCodec", "MamoriCore", "Simulator"],
            swiftSettings: swiftSettings
        ),
        // Notices by e-mail: MIME messages and an SMTP client (STARTTLS, AUTH) on SwiftNIO. An adapter.
        .target(
            name: "Notify",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NotifyTests",
            dependencies: [
                "Notify", "MamoriTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
