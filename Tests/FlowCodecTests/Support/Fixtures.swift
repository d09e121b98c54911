import FlowCodec
import FlowFiles
import Foundation
import MamoriTesting

/// Paths of the bundled fixtures (`Tests/FlowCodecTests/Fixtures`, copied as a resource folder).
enum Fixtures {
    static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    static func path(_ relative: String) -> String {
        return root.appendingPathComponent(relative).path
    }

    static func datagrams(_ relative: String) throws -> [CapturedDatagram] {
        try FixtureLoader.datagrams(pcapAt: path(relative))
    }

    static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// One JSON object per line (pmacct's Kafka output files).
    static func jsonLines(_ relative: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path(relative), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// The 46 logstash-codec-netflow vendor sets (`netflow-vendors/pcap/<set>.pcap`).
    static let vendorSets: [String] = [
        "nf5_softflowd", "nf5_invalid01", "nf5_invalid02", "nf5_mikrotik", "nf5_juniper_mx80",
        "nf9_softflowd_valid01", "nf9_macaddr", "nf9_cisco_aci", "nf9_cisco_asa_1",
        "nf9_multiple_exporters_nprobe_softflowd", "nf9_invalid01", "nf9_cisco_asa_2",
        "nf9_iptnetflow_reduced_size", "nf9_h3c", "nf9_unknown_ie150_ie151", "nf9_paloalto_81_zerofilled",
        "nf9_h3c_netstream_varstring", "nf9_fortigate_fortios_542_appid", "nf9_ubnt_edgerouter_mpls",
        "nf9_nprobe_dpi", "nf9_fortigate_fortios_521", "nf9_streamcore", "nf9_juniper_srx_opttpl",
        "nf9_0length_fields", "nf9_cisco_asr9k", "nf9_huawei_netstream", "nf9_layer2segmentid",
        "nf9_cisco_nbar", "nf9_cisco_wlc", "nf9_cisco_wlc_8510_tpl", "nf9_cisco_1941k9",
        "nf9_cisco_asr1001x_tpl", "nf9_paloalto_panos_appid", "ipfix_softflowd", "ipfix_openbsd_pflow",
        "ipfix_ixia", "ipfix_juniper_mx240", "ipfix_nokia_bras", "ipfix_procera",
        "ipfix_barracuda_extended_uniflow", "ipfix_mikrotik", "ipfix_netscaler", "ipfix_vmware_vds",
        "ipfix_viptela", "ipfix_barracuda", "ipfix_yaf_applabel",
    ]

    /// Every v5 / v9 / IPFIX capture bundled (vendor sets, pmacct, scapy), for robustness tests.
    static let allFlowPcaps: [String] =
        vendorSets.map { "netflow-vendors/pcap/\($0).pcap" } + [
            "pmacct/100-IPFIXv10-CISCO/traffic-00.pcap",
            "pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap",
            "pmacct/102-NFv9-CISCO-f2rd-pretag-sampling-reload/traffic-00.pcap",
            "pmacct/103-IPFIXv10-CISCO-pretag-JSON_encoding/traffic-00.pcap",
            "pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap",
            "pmacct/106-IPFIXv10-HUAWEI-vrf_name/traffic-00.pcap",
            "pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-00.pcap",
            "pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-01.pcap",
            "pmacct/112-IPFIXv10-CISCO-options-map-reassignment/traffic-00.pcap",
            "scapy/netflowv9.pcap",
            "scapy/ipfix.pcap",
        ]
}
