import FlowCodec
import MamoriCore

/// Seeded mutations of well-formed input, biased towards what breaks parsers and the arithmetic
/// after them: extreme integers written over fields (0, 1, all ones, the sign bit, 2^63−1),
/// flipped bits, truncation, duplicated or removed runs, and splices of two inputs. The same seed
/// gives the same sequence, so a failure is replayed by its seed.
///
/// ```swift
/// var m = HostileMutator(seed: 7)
/// let hostile = m.mutate(validDatagram)
/// ```
public struct HostileMutator: Sendable {
    public private(set) var random: SplitMix64

    public init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// Big-endian integers of 1, 2, 4 and 8 bytes that sit at the edges of their ranges.
    public static let extremeWords: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max,
    ]

    /// The next random word.
    public mutating func next() -> UInt64 { random.next() }

    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(random.next() % UInt64(n)) }

    /// 1 to 4 mutations of `input`; `other` (another well-formed input) may be spliced in.
    public mutating func mutate(_ input: [UInt8], other: [UInt8] = []) -> [UInt8] {
        var b = input
        for _ in 0...below(4) { step(&b, other: other) }
        return b
    }

    mutating func step(_ b: inout [UInt8], other: [UInt8]) {
        switch below(8) {
        case 0, 1, 2: // an extreme value over a field-sized run, at any offset
            guard !b.isEmpty else { return }
            let width = [1, 2, 4, 8][below(4)]
            let value = Self.extremeWords[below(Self.extremeWords.count)]
            let at = below(b.count)
            for k in 0..<width where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - k))) }
        case 3: // bit flips
            guard !b.isEmpty else { return }
            for _ in 0...below(8) { b[below(b.count)] ^= UInt8(1) << UInt8(below(8)) }
        case 4: // truncate
            b.removeLast(below(b.count + 1))
        case 5: // duplicate a run (grows lengths past what headers say)
            guard !b.isEmpty else { return }
            let from = below(b.count)
            let n = below(min(64, b.count - from) + 1)
            b.insert(contentsOf: b[from..<(from + n)], at: below(b.count + 1))
        case 6: // remove a run
            guard !b.isEmpty else { return }
            let from = below(b.count)
            let n = below(min(64, b.count - from) + 1)
            b.removeSubrange(from..<(from + n))
        default: // splice: a head of this one and a tail of the other
            guard !other.isEmpty else { return }
            let head = below(b.count + 1)
            let tail = below(other.count + 1)
            b = Array(b.prefix(head)) + Array(other.suffix(tail))
        }
    }

    /// A time from the edges: 0, −1, Int64 bounds, 1970, 2100, 2262, or `now` ± up to `spread` ms.
    public mutating func time(near now: Int64, spread: Int64 = 2 * 86_400_000) -> Int64 {
        switch below(10) {
        case 0: return 0
        case 1: return -1
        case 2: return .max
        case 3: return .min
        case 4: return 1
        case 5: return 4_102_444_800_000 + Int64(below(3)) - 1
        case 6: return 9_214_646_400_000
        default: return now &+ Int64(below(Int(2 * max(1, spread)))) &- spread
        }
    }

    /// A flow record with fields drawn from the edges of their ranges (times near `now` or
    /// extreme, counters up to 2^64−1, every port and protocol), and sometimes NAT event fields;
    /// addresses from `addresses` or random.
    public mutating func record(near now: Int64, spread: Int64 = 2 * 86_400_000, addresses: [IPAddress]) -> FlowRecord {
        func address() -> IPAddress {
            if !addresses.isEmpty, below(3) > 0 { return addresses[below(addresses.count)] }
            return below(4) == 0 ? .v6(high: random.next(), low: random.next()) : .v4(UInt32(truncatingIfNeeded: random.next()))
        }
        func word() -> UInt64 { below(2) == 0 ? Self.extremeWords[below(Self.extremeWords.count)] : random.next() >> UInt64(below(64)) }
        let start = time(near: now, spread: spread)
        var r = FlowRecord(
            exporter: address(), sourceAddress: address(), destinationAddress: address(),
            sourcePort: UInt16(truncatingIfNeeded: word()), destinationPort: UInt16(truncatingIfNeeded: word()),
            ipProtocol: [1, 6, 17, 47, 58, 0, 255][below(7)], tcpFlags: UInt8(truncatingIfNeeded: word()),
            bytes: word(), packets: word(),
            startMilliseconds: start, endMilliseconds: below(3) == 0 ? time(near: now, spread: spread) : start &+ Int64(below(120_000))
        )
        r.samplingInterval = UInt32(truncatingIfNeeded: below(3) == 0 ? word() : 1)
        if below(5) == 0 {
            var nat = NATFields()
            nat.event = UInt8(truncatingIfNeeded: [1, 2, 4, 5, 16, 17, 0, 255][below(8)])
            nat.postSourceAddress = address()
            nat.postSourcePort = UInt16(truncatingIfNeeded: word())
            nat.portRangeStart = UInt16(truncatingIfNeeded: word())
            nat.portRangeEnd = UInt16(truncatingIfNeeded: word())
            nat.portRangeStepSize = UInt16(truncatingIfNeeded: word())
            nat.portRangeNumPorts = UInt16(truncatingIfNeeded: word())
            r.nat = nat
        }
        return r
    }
}
