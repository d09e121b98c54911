import ArgumentParser

@main
struct Mamori: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mamori",
        abstract: "Find botnet C&C servers and infected subscriber devices in the flow records an ISP's routers export.",
        discussion: """
            Mamori collects NetFlow v5/v9, IPFIX and sFlow v5 from routers and decodes them into one \
            normalised flow record, scaled by the sampling rate each exporter announces.

            Start here:
              mamori serve                         collect on UDP 2055/4739/6343, HTTP on 127.0.0.1:8080
              mamori decode capture.pcap           show the flow records inside a capture
              mamori replay capture.pcap --to 127.0.0.1:2055
              mamori bench decode                  decoder throughput on this machine
            """,
        subcommands: [Serve.self, Decode.self, Analyze.self, Replay.self, Simulate.self, Whois.self, Bench.self]
    )
}
