import ArgumentParser
import FlowCodec
import Foundation
import IdentityCodec
import MamoriCore
import Senders
import Simulator

#if canImport(Glibc)
import Glibc
#endif

/// `mamori simulate`'s identity-data options: what the carrier's identity systems would say
/// about the simulated subscribers.
struct IdentityOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Send RADIUS accounting (Accounting-On, Start, Interim-Update) as a BNG and packet gateway would, over UDP to a RADIUS accounting server (RFC 2866; port 1813 usually). Paced with the simulated clock. Needs --radius-secret.",
            valueName: "host:port"))
    var radius: String?

    @Option(help: ArgumentHelp("Shared secret of the RADIUS client (the NAS) and server.", valueName: "secret"))
    var radiusSecret: String?

    @Flag(
        help:
            "Sign every RADIUS request with a Message-Authenticator too (RFC 3579 §3.2), as NASes hardened against BlastRADIUS do; needed when the server requires it."
    )
    var radiusMessageAuthenticator = false

    @Option(
        help: ArgumentHelp(
            "Write the RADIUS accounting records as a FreeRADIUS 'detail' file (what the server would log).", valueName: "file"))
    var radiusDetail: String?

    @Option(
        help: ArgumentHelp(
            "Write the DHCPv4 leases of IPoE lines in ISC Kea's memfile CSV (kea-leases4.csv, Kea 2.6 columns); renewals are appended as Kea does.",
            valueName: "file"))
    var keaLeases4: String?

    @Option(
        help: ArgumentHelp(
            "Write the DHCPv6 prefix delegations (IA_PD, lease_type 2) of IPoE lines in Kea's memfile CSV (kea-leases6.csv).",
            valueName: "file"))
    var keaLeases6: String?

    @Option(
        help: ArgumentHelp(
            "Write the CGNAT's port-block allocations as syslog lines (RFC 5424, Juniper JSERVICES_NAT_PORT_BLOCK_ALLOC).",
            valueName: "file"))
    var natSyslog: String?

    @Flag(
        help:
            "Add the CGNAT's port-block allocations as IPFIX NAT events (RFC 8158, natEvent 16) from 198.19.253.1 to the export stream (--to / --pcap)."
    )
    var natEvents = false

    @Option(help: ArgumentHelp("Seconds between RADIUS Interim-Updates of a session (at least 60).", valueName: "seconds"))
    var interimInterval: Int = 600

    var anyOutput: Bool { radius != nil || radiusDetail != nil || keaLeases4 != nil || keaLeases6 != nil || natSyslog != nil }

    func validate() throws {
        if radius != nil && radiusSecret == nil { throw ValidationError("--radius needs --radius-secret") }
        if radiusSecret != nil && radius == nil { throw ValidationError("--radius-secret without --radius") }
        if let radiusSecret, radiusSecret.isEmpty { throw ValidationError("--radius-secret must not be empty") }
        if radiusMessageAuthenticator && radius == nil { throw ValidationError("--radius-message-authenticator goes with --radius") }
        if let radius { _ = try parseEndpoint(radius, option: "--radius") }
        guard interimInterval >= 60 else { throw ValidationError("--interim-interval must be at least 60 seconds") }
    }
}

func parseEndpoint(_ text: String, option: String) throws -> SocketEndpoint {
    do { return try SocketEndpoint(parsing: text) } catch { throw ValidationError("\(option) \(error)") }
}

/// Writes and sends a simulation's identity data window by window.
final class IdentityOutputs {
    let plan: IdentityPlan
    let options: IdentityOptions
    private var radiusClient: RADIUSAccountingClient?
    private var detail: FileHandle?
    private var leases4: FileHandle?
    private var leases6: FileHandle?
    private var syslog: FileHandle?
    private var natExporter: CGNATEventExporter

    init(simulation: Simulation, options: IdentityOptions) throws {
        var c = IdentityPlan.Configuration()
        c.interimIntervalSeconds = options.interimInterval
        plan = IdentityPlan(model: simulation.model, configuration: c)
        self.options = options
        natExporter = CGNATEventExporter(exporterIndex: simulation.configuration.exporters)
        if let radius = options.radius, let secret = options.radiusSecret {
            let endpoint = try parseEndpoint(radius, option: "--radius")
            do {
                radiusClient = try RADIUSAccountingClient(
                    to: endpoint, secret: Array(secret.utf8), messageAuthenticator: options.radiusMessageAuthenticator)
            } catch {
                throw ValidationError("--radius: \(error)")
            }
        }
        func create(_ path: String?, header: String? = nil) throws -> FileHandle? {
            guard let path else { return nil }
            guard FileManager.default.createFile(atPath: path, contents: header.map { Data(($0 + "\n").utf8) }),
                let h = FileHandle(forWritingAtPath: path)
            else {
                throw ValidationError("cannot create \(path)")
            }
            h.seekToEndOfFile()
            return h
        }
        detail = try create(options.radiusDetail)
        leases4 = try create(options.keaLeases4, header: KeaLeaseFile.header4)
        leases6 = try create(options.keaLeases6, header: KeaLeaseFile.header6)
        syslog = try create(options.natSyslog)
    }

    /// Emits the identity events of [from, to); returns the IPFIX NAT event datagrams to add to the export stream.
    func emit(from: Int64, to: Int64) async throws -> [SimulatedDatagram] {
        let w = plan.events(from: from, to: to)
        if let detail, !w.accounting.isEmpty {
            var text = ""
            for a in w.accounting { text += FreeRADIUSDetail.format(a.record, writtenAtMilliseconds: a.time) }
            detail.write(Data(text.utf8))
        }
        if let leases4, !w.leases4.isEmpty { leases4.write(Data(w.leases4.map { $0.row + "\n" }.joined().utf8)) }
        if let leases6, !w.leases6.isEmpty { leases6.write(Data(w.leases6.map { $0.row + "\n" }.joined().utf8)) }
        if let syslog, !w.portBlocks.isEmpty { syslog.write(Data(w.portBlocks.map { $0.line + "\n" }.joined().utf8)) }
        if let radiusClient {
            for a in w.accounting { try await radiusClient.send(a.record) }
            radiusClient.collectResponses()
        }
        return options.natEvents ? natExporter.datagrams(for: w.portBlocks, time: to) : []
    }

    /// Waits briefly for the last Accounting-Responses and closes the files; returns a summary line.
    func finish() async -> String? {
        for h in [detail, leases4, leases6, syslog] { try? h?.close() }
        guard let radiusClient else { return nil }
        let deadline = monotonicSeconds() + 2
        while radiusClient.answered + radiusClient.rejected < radiusClient.sent && monotonicSeconds() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
            radiusClient.collectResponses()
        }
        return "RADIUS: \(radiusClient.sent) Accounting-Requests sent, \(radiusClient.answered) Accounting-Responses verified"
            + (radiusClient.rejected > 0 ? ", \(radiusClient.rejected) responses with a bad authenticator" : "")
            + (radiusClient.sendFailures > 0 ? ", \(radiusClient.sendFailures) send failures" : "")
    }
}
