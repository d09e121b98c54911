import FlowCodec
import FlowEncoding
import IdentityCodec
import Simulator
import Testing

/// The simulator's identity data: deterministic per seed, consistent with the model and the labels.
@Suite struct IdentityTests {
    static func wholeRun(_ c: ISPModel.Configuration) throws -> (Simulation, IdentityPlan.Window) {
        let sim = try Simulation(configuration: c)
        var plan = IdentityPlan.Configuration()
        plan.interimIntervalSeconds = 120
        plan.leaseLifetimeSeconds = 600
        let identity = IdentityPlan(model: sim.model, configuration: plan)
        var all = IdentityPlan.Window()
        var t = c.startMilliseconds
        while t < c.endMilliseconds {
            let w = identity.events(from: t, to: t + c.windowMilliseconds)
            all.accounting += w.accounting
            all.leases4 += w.leases4
            all.leases6 += w.leases6
            all.portBlocks += w.portBlocks
            t += c.windowMilliseconds
        }
        return (sim, all)
    }

    @Test func sameSeedSameIdentityData() throws {
        let (_, a) = try Self.wholeRun(smallConfiguration(seed: 7))
        let (_, b) = try Self.wholeRun(smallConfiguration(seed: 7))
        let (_, c) = try Self.wholeRun(smallConfiguration(seed: 8))
        #expect(a == b)
        #expect(a != c)
        #expect(!a.accounting.isEmpty && !a.leases4.isEmpty && !a.leases6.isEmpty && !a.portBlocks.isEmpty)
    }

    @Test("reconnects: Accounting-Stop, then a new session with the same addresses; CGNAT block released and allocated again")
    func reconnectsStopAndStartAgain() throws {
        var c = smallConfiguration(seed: 3)
        c.durationMilliseconds = 3_600_000
        let (sim, w) = try Self.wholeRun(c)
        let plan = IdentityPlan(model: sim.model)
        let reconnecting = sim.model.subscribers.compactMap { s in plan.reconnect(of: s).map { (s, $0) } }
        #expect(reconnecting.count >= 3, "only \(reconnecting.count) reconnects in the run")
        #expect(
            reconnecting.allSatisfy { $0.1.stop >= c.startMilliseconds && $0.1.restart < c.endMilliseconds && $0.1.restart > $0.1.stop })
        for (s, r) in reconnecting {
            let first = plan.identity(of: s)
            let mine = w.accounting.filter { $0.record.userName == first.account }
            let stops = mine.filter { $0.record.status == .stop }
            #expect(stops.count == 1)
            #expect(stops.first?.time == r.stop)
            #expect(stops.first?.record.sessionID == first.sessionID)
            #expect(stops.first?.record.terminateCause == r.terminateCause)
            #expect(stops.first?.record.framedIPAddress == s.insideAddress)
            #expect(stops.first?.record.sessionTime == UInt32((r.stop - first.sessionStart) / 1000))
            let restarts = mine.filter { $0.record.status == .start && $0.record.sessionID == r.sessionID }
            #expect(restarts.map(\.time) == [r.restart])
            #expect(restarts.first?.record.framedIPAddress == s.insideAddress)
            #expect(r.sessionID != first.sessionID)
            // No Interim-Update of the old session after its Stop; the new one's follow its Start.
            #expect(!mine.contains { $0.record.status == .interimUpdate && $0.record.sessionID == first.sessionID && $0.time > r.stop })
            #expect(
                mine.filter { $0.record.status == .interimUpdate && $0.record.sessionID == r.sessionID }.allSatisfy { $0.time > r.restart })
            if let block = s.portBlock {
                let events = w.portBlocks.filter { $0.insideAddress == s.insideAddress }
                #expect(events.map(\.kind) == [.allocate, .release, .allocate])
                #expect(events.map(\.timeMilliseconds).dropFirst() == [r.stop, r.restart])
                #expect(events.allSatisfy { $0.firstPort == block.first && $0.lastPort == block.last })
            }
        }
        // Every Stop encodes and signs like any other accounting request.
        for a in w.accounting where a.record.status == .stop {
            let packet = try RADIUSPacket.accountingRequest(identifier: 1, attributes: a.record.attributes, secret: Array("s3cret".utf8))
            let decoded = try RADIUSPacket.decode(try packet.encoded())
            #expect(decoded.isValidAccountingRequest(secret: Array("s3cret".utf8)))
            #expect(try AccountingRecord(packet: decoded).status == .stop)
        }
    }

    @Test func everyLineIsKnownToExactlyOneIdentitySystem() throws {
        let c = smallConfiguration()
        let (sim, w) = try Self.wholeRun(c)
        let plan = IdentityPlan(model: sim.model)
        var accounts = Set<String>()
        let starts = w.accounting.filter { $0.record.status == .start }
        let ons = w.accounting.filter { $0.record.status == .accountingOn }
        #expect(Set(ons.map(\.nas)).count == ons.count)
        // Accounting-On precedes every Start of its NAS.
        #expect(w.accounting.prefix(ons.count).allSatisfy { $0.record.status == .accountingOn })
        let startByAccount = Dictionary(starts.map { ($0.record.userName!, $0.record) }, uniquingKeysWith: { a, _ in a })
        let leaseByAddress = Dictionary(w.leases4.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        for s in sim.model.subscribers {
            let id = plan.identity(of: s)
            #expect(accounts.insert(id.account).inserted, "accounts are unique")
            switch id.provisioning {
            case .radius:
                let r = try #require(startByAccount[id.account])
                #expect(r.framedIPAddress == s.insideAddress)
                #expect(r.eventTime == id.sessionStart / 1000)
                #expect(r.eventTime! * 1000 <= c.startMilliseconds)
                #expect(r.callingStationID == id.callingStationID)
                let prefixes = (r.delegatedIPv6Prefixes + r.framedIPv6Prefixes).map(\.description)
                #expect(prefixes == (s.ipv6PrefixText.map { [$0] } ?? []))
                #expect(leaseByAddress[s.insideAddress] == nil)
            case .dhcp:
                #expect(s.line == .broadband)
                let l = try #require(leaseByAddress[s.insideAddress])
                #expect(l.hardwareAddress == id.hardwareAddress)
                #expect(l.isActive(at: c.startMilliseconds / 1000))
                #expect(startByAccount[id.account] == nil)
            }
        }
        // Interim-Updates come every interval inside the run, with growing session time.
        let interims = w.accounting.filter { $0.record.status == .interimUpdate }
        #expect(interims.allSatisfy { $0.time >= c.startMilliseconds && $0.time < c.endMilliseconds })
        #expect(interims.count >= starts.count * 4)
        // CGNAT lines get exactly one port block allocation each, matching the model.
        let cgnat = sim.model.subscribers.filter(\.isBehindCGNAT)
        #expect(w.portBlocks.count == cgnat.count)
        for (b, s) in zip(w.portBlocks.sorted { $0.insideAddress < $1.insideAddress }, cgnat.sorted { $0.insideAddress < $1.insideAddress })
        {
            #expect(b.insideAddress == s.insideAddress && b.outsideAddress == s.publicAddress)
            #expect(b.firstPort == s.portBlock?.first && b.lastPort == s.portBlock?.last)
        }
    }

    /// The written formats map every infected device's addresses to the account in its label.
    @Test func writtenIdentityFilesAttributeInfectedDevicesToTheirLabelledAccounts() throws {
        let (sim, w) = try Self.wholeRun(smallConfiguration())
        let labels = sim.labels
        #expect(labels.identity?.radiusLines ?? 0 > 0 && labels.identity?.dhcpLines ?? 0 > 0)
        // Write and re-read every format, as an attribution engine would.
        var detail = ""
        for a in w.accounting { detail += FreeRADIUSDetail.format(a.record, writtenAtMilliseconds: a.time) }
        let records = try FreeRADIUSDetail.parse(detail[...]).entries.map { try $0.accountingRecord() }
        #expect(records == w.accounting.map(\.record))
        let leases4 = try KeaLeaseFile.parse4((KeaLeaseFile.header4 + "\n" + w.leases4.map { $0.row + "\n" }.joined())[...])
        let leases6 = try KeaLeaseFile.parse6((KeaLeaseFile.header6 + "\n" + w.leases6.map { $0.row + "\n" }.joined())[...])
        let blocks = try w.portBlocks.map { try NATPortBlockEvent(line: $0.line[...]) }
        #expect(blocks == w.portBlocks)

        var checked = 0
        for device in labels.infectedDevices {
            let account = try #require(device.account)
            let inside = IPAddress(device.insideAddress)!
            var found: [String] = []
            for r in records where r.framedIPAddress == inside { found.append(r.userName ?? "") }
            for l in leases4 where l.address == inside { found.append(l.userContext) }
            #expect(!found.isEmpty, "no identity record for \(device.insideAddress)")
            #expect(found.allSatisfy { $0 == account || $0.contains("\"\(account)\"") })
            if let prefix = device.ipv6Prefix {
                let inV6 =
                    records.contains {
                        ($0.delegatedIPv6Prefixes + $0.framedIPv6Prefixes).map(\.description).contains(prefix) && $0.userName == account
                    }
                    || leases6.contains { $0.prefix?.description == prefix && $0.userContext.contains("\"\(account)\"") }
                #expect(inV6, "IPv6 prefix \(prefix) not attributed to \(account)")
            }
            if let block = device.portBlock {
                let outside = IPAddress(device.publicAddress)!
                #expect(
                    blocks.contains {
                        $0.outsideAddress == outside && $0.firstPort == block.first && $0.lastPort == block.last
                            && $0.insideAddress == inside
                    })
            }
            checked += 1
        }
        #expect(checked == labels.infectedDevices.count && checked > 0)
    }

    /// IPFIX NAT events from the CGNAT logger decode back into the port blocks.
    @Test func natEventsDecode() throws {
        let (_, w) = try Self.wholeRun(smallConfiguration())
        var encoder = NATEventEncoder(observationDomain: 1)
        let messages = encoder.encode(IdentityPlan.natEventRecords(w.portBlocks), exportTimeMilliseconds: 1_767_225_610_000)
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        for m in messages {
            _ = m.withUnsafeBytes { decoder.decode($0, from: IdentityPlan.cgnatLoggerAddress, receivedAtMilliseconds: 0, into: &records) }
        }
        #expect(records.count == w.portBlocks.count)
        for (r, b) in zip(records, w.portBlocks) {
            #expect(r.nat?.event == NATFields.portBlockAllocation)
            #expect(r.sourceAddress == b.insideAddress && r.nat?.postSourceAddress == b.outsideAddress)
            #expect(r.nat?.portRangeStart == b.firstPort && r.nat?.portRangeEnd == b.lastPort)
            #expect(r.startMilliseconds == b.timeMilliseconds)
        }
    }
}
