import FlowCodec
import IdentityCodec
import MamoriCore
import Testing

@Suite struct FreeRADIUSDetailTests {
    /// A record exactly as FreeRADIUS 3.2.1 wrote it (captured from the real server by the peer test's setup).
    static let written = """
        Mon Nov 23 21:25:40 2026
        \tAcct-Status-Type = Start
        \tUser-Name = "acct-0001"
        \tAcct-Session-Id = "abc"
        \tFramed-IP-Address = 100.64.0.1
        \tDelegated-IPv6-Prefix = 2001:db8:100::/56
        \tEvent-Timestamp = "Jan  1 2026 00:00:00 UTC"
        \tNAS-IP-Address = 198.19.252.1
        \tCalling-Station-Id = "02-00-5e-10-00-01"
        \tTimestamp = 1795469139


        """

    @Test func parsesWhatFreeRADIUSWrites() throws {
        let result = try FreeRADIUSDetail.parse(Self.written[...])
        #expect(result.entries.count == 1)
        #expect(result.consumedUTF8Count == Self.written.utf8.count)
        let e = try #require(result.entries.first)
        #expect(e.writtenAtMilliseconds == 1_795_469_139_000)
        let r = try e.accountingRecord()
        #expect(r.status == .start)
        #expect(r.userName == "acct-0001")
        #expect(r.sessionID == "abc")
        #expect(r.framedIPAddress == IPAddress("100.64.0.1"))
        #expect(r.delegatedIPv6Prefixes == [IPPrefix("2001:db8:100::/56")!])
        #expect(r.eventTime == 1_767_225_600)
        #expect(r.nasIPAddress == IPAddress("198.19.252.1"))
        #expect(r.callingStationID == "02-00-5e-10-00-01")
    }

    @Test func writerRoundTripsAndMatchesTheHeaderLayout() throws {
        var r = AccountingRecord(status: .interimUpdate, sessionID: "s\"1\\", eventTime: 1_767_225_600)
        r.userName = "isp-000001"
        r.framedIPAddress = IPAddress("100.64.0.2")
        r.framedIPv6Prefixes = [IPPrefix("2001:db8:8000:2::/64")!]
        r.sessionTime = 300
        r.inputOctets = 1 << 33 | 5
        r.outputOctets = 9
        r.nasPortType = 18
        r.terminateCause = nil
        let text = FreeRADIUSDetail.format(r, writtenAtMilliseconds: 1_767_225_601_000)
        #expect(text.hasPrefix("Thu Jan  1 00:00:01 2026\n\tAcct-Status-Type = Interim-Update\n"))
        #expect(text.contains("\tEvent-Timestamp = \"Jan  1 2026 00:00:00 UTC\"\n"))
        #expect(text.contains("\tNAS-Port-Type = Wireless-Other\n"))
        #expect(text.hasSuffix("\tTimestamp = 1767225601\n\n"))
        let two = text + FreeRADIUSDetail.format(AccountingRecord(status: .accountingOn, eventTime: 5), writtenAtMilliseconds: 6000)
        let parsed = try FreeRADIUSDetail.parse(two[...])
        #expect(try parsed.entries.map { try $0.accountingRecord() } == [r, AccountingRecord(status: .accountingOn, eventTime: 5)])
        // A record still being written is left for later.
        let partial = two + "Thu Jan  1 00:00:07 1970\n\tAcct-Status-Type = Start\n"
        let p = try FreeRADIUSDetail.parse(partial[...])
        #expect(p.entries.count == 2)
        #expect(p.consumedUTF8Count == two.utf8.count)
    }

    @Test func malformedDetailThrows() {
        #expect(throws: IdentityCodecError(.malformedLine)) { try FreeRADIUSDetail.parse("\tUser-Name = \"x\"\n\n") }
        #expect(throws: IdentityCodecError(.badFieldValue)) { try FreeRADIUSDetail.parse("yesterday\n\tUser-Name = \"x\"\n\n") }
        #expect(throws: IdentityCodecError(.malformedLine)) { try FreeRADIUSDetail.parse("Thu Jan  1 00:00:01 2026\n\tUser-Name\n\n") }
        #expect(throws: IdentityCodecError(.malformedLine)) {
            try FreeRADIUSDetail.parse("Thu Jan  1 00:00:01 2026\n\tUser-Name = \"x\n\n")
        }
        #expect(throws: IdentityCodecError(.missingField)) {
            try FreeRADIUSDetail.parse("Thu Jan  1 00:00:01 2026\n\tUser-Name = \"x\"\n\n").entries[0].accountingRecord()
        }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try FreeRADIUSDetail.parse("Thu Jan  1 00:00:01 2026\n\tAcct-Status-Type = Start\n\tFramed-IP-Address = 300.1.1.1\n\n").entries[
                0
            ].accountingRecord()
        }
    }
}

@Suite struct KeaLeaseFileTests {
    @Test func v4RoundTripWithKeaHeader() throws {
        var l = KeaLeaseFile.Lease4(
            address: IPAddress("100.64.0.9")!, hardwareAddress: "02:00:5e:00:00:09", validLifetime: 86_400, expire: 1_767_312_000,
            subnetID: 1)
        l.hostname = "cpe,9"
        l.userContext = "{ \"account\": \"isp-000008\" }"
        let text = KeaLeaseFile.header4 + "\n" + l.row + "\n"
        #expect(l.row == "100.64.0.9,02:00:5e:00:00:09,,86400,1767312000,1,0,0,cpe&#x2c9,0,{ \"account\": \"isp-000008\" },0")
        let parsed = try KeaLeaseFile.parse4(text[...])
        #expect(parsed == [l])
        #expect(l.clientLastTransmission == 1_767_225_600)
        #expect(l.isActive(at: 1_767_225_600) && !l.isActive(at: 1_767_312_000))
    }

    @Test func v6PrefixDelegationRoundTrip() throws {
        var pd = KeaLeaseFile.Lease6(
            address: IPAddress("2001:db8:900::")!, duid: "00:03:00:01:02:00:5e:00:00:09", validLifetime: 7200, expire: 1_767_232_800,
            subnetID: 2, preferredLifetime: 3600, type: .prefix, iaid: 1, prefixLength: 56)
        pd.hardwareAddress = "02:00:5e:00:00:09"
        pd.hardwareType = 1
        pd.hardwareAddressSource = 4
        let text = KeaLeaseFile.header6 + "\n" + pd.row + "\n"
        #expect(try KeaLeaseFile.parse6(text[...]) == [pd])
        #expect(pd.prefix == IPPrefix("2001:db8:900::/56"))
        #expect(pd.row.split(separator: ",", omittingEmptySubsequences: false).count == KeaLeaseFile.header6.split(separator: ",").count)
    }

    /// Files of older Kea versions (no pool_id, no user_context) still read: columns map by header.
    @Test func olderHeadersRead() throws {
        let text =
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state\n192.0.2.5,02:00:00:00:00:05,,3600,1700003600,1,0,0,,0\n"
        let l = try #require(try KeaLeaseFile.parse4(text[...]).first)
        #expect(l.address == IPAddress("192.0.2.5"))
        #expect(l.poolID == 0 && l.state == .default)
    }

    @Test func malformedLeaseFilesThrow() {
        #expect(throws: IdentityCodecError(.missingField)) { try KeaLeaseFile.parse4("") }
        #expect(throws: IdentityCodecError(.missingField)) { try KeaLeaseFile.parse4("address,hwaddr\n") }
        #expect(throws: IdentityCodecError(.malformedLine)) { try KeaLeaseFile.parse4((KeaLeaseFile.header4 + "\n1.2.3.4,aa\n")[...]) }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try KeaLeaseFile.parse4((KeaLeaseFile.header4 + "\n1.2.3.4,aa,,x,1,1,0,0,,0,,0\n")[...])
        }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try KeaLeaseFile.parse4((KeaLeaseFile.header4 + "\n2001:db8::1,aa,,1,1,1,0,0,,0,,0\n")[...])
        }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try KeaLeaseFile.parse6((KeaLeaseFile.header6 + "\n2001:db8::,01,1,1,1,1,7,1,56,0,0,,,0,,,,0\n")[...])
        }
    }
}

@Suite struct NATPortBlockSyslogTests {
    static let event = NATPortBlockEvent(
        kind: .allocate, timeMilliseconds: 1_767_225_600_250, host: "cgnat1", insideAddress: IPAddress("100.64.0.1")!,
        outsideAddress: IPAddress("198.18.0.0")!, firstPort: 1024, lastPort: 2031, allocatedAt: 1_767_225_600)

    @Test func lineLayoutAndRoundTrip() throws {
        let line = Self.event.line
        #expect(
            line
                == "<134>1 2026-01-01T00:00:00.250Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_ALLOC - {cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.1 -> 198.18.0.0:1024-2031 0x6955b900"
        )
        #expect(try NATPortBlockEvent(line: line[...]) == Self.event)
        var release = Self.event
        release.kind = .release
        release.timeMilliseconds += 3_600_000
        #expect(try NATPortBlockEvent(line: (release.line + "\n")[...]) == release)
    }

    @Test func acceptsStructuredDataAndZoneOffsets() throws {
        let line =
            "<134>1 2026-01-01T09:00:00.250+09:00 cgnat1 jservices-nat 1234 JSERVICES_NAT_PORT_BLOCK_ALLOC [junos@2636.1.1.1.2.18 x=\"a ] b\"] {cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.1 -> 198.18.0.0:1024-2031 0x6955b900"
        #expect(try NATPortBlockEvent(line: line[...]) == Self.event)
    }

    @Test func malformedLinesThrow() {
        #expect(throws: IdentityCodecError(.malformedLine)) { try NATPortBlockEvent(line: "hello") }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try NATPortBlockEvent(
                line: "<134>1 2026-13-01T00:00:00Z h a - m - {s}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 1.1.1.1 -> 2.2.2.2:1-2 0x1"
            )
        }
        #expect(throws: IdentityCodecError(.malformedLine)) {
            try NATPortBlockEvent(
                line: "<134>1 2026-01-01T00:00:00Z h a - m - {s}[jservices-nat]: JSERVICES_NAT_RULE_MATCH: 1.1.1.1 -> 2.2.2.2:1-2 0x1")
        }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try NATPortBlockEvent(
                line: "<134>1 2026-01-01T00:00:00Z h a - m - {s}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 1.1.1.1 -> 2.2.2.2:9-2 0x1"
            )
        }
        #expect(throws: IdentityCodecError(.badFieldValue)) {
            try NATPortBlockEvent(
                line: "<134>1 2026-01-01T00:00:00Z h a - m - {s}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: x -> 2.2.2.2:1-2 0x1")
        }
        let good = NATPortBlockSyslogTests.event.line
        for n in 0..<good.count { _ = try? NATPortBlockEvent(line: good.prefix(n)) }
    }
}

@Suite struct UTCTimeTests {
    @Test func calendarRoundTrips() {
        for ms: Int64 in [0, 951_782_400_000, 1_767_225_600_000, 4_102_444_800_123, -86_400_000] {
            #expect(UTCTime(milliseconds: ms).milliseconds == ms)
        }
        #expect(UTCTime(milliseconds: 1_767_225_600_000).ctime == "Thu Jan  1 00:00:00 2026")
        #expect(UTCTime(milliseconds: 1_795_469_140_000).ctime == "Mon Nov 23 21:25:40 2026")
    }
}

/// Seeded mutations of every text format throw or parse, never trap.
@Suite struct TextFormatRobustnessTests {
    struct Mutator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Replaces, deletes or duplicates a few bytes; inserts digits, separators and extremes.
        mutating func mutate(_ text: String) -> String {
            var bytes = Array(text.utf8)
            let pieces: [[UInt8]] = [
                Array("\n".utf8), Array(",".utf8), Array("\t".utf8), Array(" = ".utf8), Array("\"".utf8), Array("\\".utf8),
                Array("99999999999999999999".utf8), Array("-9223372036854775808".utf8), Array(":".utf8), Array("0x".utf8),
                Array("\r\n".utf8),
            ]
            for _ in 0..<(1 + Int(next() % 4)) where !bytes.isEmpty {
                let i = Int(next() % UInt64(bytes.count))
                switch next() % 4 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(contentsOf: pieces[Int(next() % UInt64(pieces.count))], at: i)
                default: bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 8)], at: i)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    @Test func mutatedTextNeverTraps() {
        var record = AccountingRecord(status: .interimUpdate, sessionID: "A1", eventTime: 1_767_225_600)
        record.userName = "cust-00000001"
        record.framedIPAddress = IPAddress("100.64.0.2")
        record.delegatedIPv6Prefixes = [IPPrefix("2001:db8:100::/56")!]
        record.inputOctets = 1 << 33
        record.sessionTime = 60
        let detail = FreeRADIUSDetail.format(record, writtenAtMilliseconds: 1_767_225_600_000) + FreeRADIUSDetailTests.written
        var l4 = KeaLeaseFile.Lease4(
            address: IPAddress("100.64.0.9")!, hardwareAddress: "02:00:5e:00:00:09", validLifetime: 86_400, expire: 1_767_312_000,
            subnetID: 1)
        l4.userContext = "{ \"account\": \"cust-1\" }"
        let kea4 = KeaLeaseFile.header4 + "\n" + l4.row + "\n" + l4.row + "\n"
        let l6 = KeaLeaseFile.Lease6(
            address: IPAddress("2001:db8:900::")!, duid: "00:03:00:01:02:00:5e:00:00:09", validLifetime: 7200, expire: 1_767_232_800,
            subnetID: 2, preferredLifetime: 3600, type: .prefix, iaid: 1, prefixLength: 56)
        let kea6 = KeaLeaseFile.header6 + "\n" + l6.row + "\n"
        let syslog = NATPortBlockSyslogTests.event.line
        var m = Mutator(state: 0xC0FFEE)
        for _ in 0..<3000 {
            if let parsed = try? FreeRADIUSDetail.parse(m.mutate(detail)[...]) {
                for e in parsed.entries {
                    if let r = try? e.accountingRecord() { _ = FreeRADIUSDetail.format(r, writtenAtMilliseconds: e.writtenAtMilliseconds) }
                }
            }
            for l in (try? KeaLeaseFile.parse4(m.mutate(kea4)[...])) ?? [] { _ = (l.row, l.isActive(at: 0)) }
            for l in (try? KeaLeaseFile.parse6(m.mutate(kea6)[...])) ?? [] { _ = (l.row, l.isActive(at: 0), l.prefix) }
            if let e = try? NATPortBlockEvent(line: m.mutate(syslog)[...]) { _ = e.line }
        }
    }
}
