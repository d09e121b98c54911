import ArgumentParser

@main
struct Mamori: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mamori",
        abstract: "Find botnet C&C servers and infected subscriber devices in the flow records an ISP's routers export.",
        discussion: """
            Mamori collects NetFlow v5/v9, IPFIX and sFlow v5 from routers, finds C&C servers, \
            infected devices, scans and floods in the flow records, and names the subscriber behind \
            an address from RADIUS, DHCP and CGNAT logs — as a pseudonym.

            Start here:
              mamori serve                         collect on UDP 2055/4739/6343, HTTP on 127.0.0.1:8080
              mamori simulate --to 127.0.0.1:2055  a simulated ISP with botnets, for the demo
              mamori decode capture.pcap           show the flow records inside a capture
              mamori analyze nfcapd.202611231000 --subscriber-prefix 198.51.100.0/22
              mamori whois 198.18.0.7 --port 40123 --at 2026-11-23T10:00:00Z
              mamori consent import customers.csv  consent and contacts from the customer system
              mamori audit verify                  check the tamper-evident audit log
              mamori user add alice --role admin   the first operator account (offline)
              mamori token create grafana --scope read_metrics --expires 90d --created-by alice
              mamori rpz list --server 127.0.0.1:8080   the DNS sinkhole's entries
              mamori bgp status --server 127.0.0.1:8080   the BGP sessions, mitigation rules and kill switch
              mamori reports check 2026-12-01-scan_ntp-jp-asn.csv   what a report file holds, row by row accounted for
              mamori bench decode                  decoder throughput on this machine
            """,
        subcommands: [
            Serve.self, Decode.self, Analyze.self, Replay.self, Simulate.self, Whois.self, Consent.self, Audit.self, User.self, Token.self,
            RPZ.self, BGP.self, Share.self, ReportsCommand.self, Fraud.self, Bench.self, Cluster.self,
        ]
    )
}
