/// Where a template field's value goes in a normalised record.
@usableFromInline
enum FieldTarget: UInt8, Sendable {
    case sourceV4, destinationV4, sourceV6, destinationV6
    case sourcePort, destinationPort, ipProtocol, tcpFlags, typeOfService
    case bytes, packets
    /// Second-best counter (e.g. OUT_BYTES beside IN_BYTES): used when the first is zero.
    case bytesFallback, packetsFallback
    case inputInterface, outputInterface, sourceAS, destinationAS, direction
    // times
    case startUptime, endUptime // 22/21: ms of system uptime
    case startSeconds, endSeconds // 150/151
    case startMilliseconds, endMilliseconds // 152/153
    case startMicroseconds, endMicroseconds // 154/155 (NTP format)
    case startNanoseconds, endNanoseconds // 156/157 (NTP format)
    case startDeltaMicroseconds, endDeltaMicroseconds // 158/159
    case systemInitMilliseconds // 160
    case observationMilliseconds // 323
    // sampling
    case samplerID, samplingInterval, samplingPacketInterval, samplingPacketSpace, samplingSize, samplingPopulation
    // NAT (RFC 8158)
    case natEvent, postSourceV4, postDestinationV4, postSourceV6, postDestinationV6
    case postSourcePort, postDestinationPort, portRangeStart, portRangeEnd, portRangeStepSize, portRangeNumPorts
}

extension FieldTarget {
    var isIPv6Address: Bool {
        switch self {
        case .sourceV6, .destinationV6, .postSourceV6, .postDestinationV6: return true
        default: return false
        }
    }
}

/// One field to extract: its offset in a fixed-length record (or its index among the fields, for
/// variable-length records), its length and its target.
@usableFromInline
struct FieldExtractor: Sendable {
    @usableFromInline var offset: Int
    @usableFromInline var fieldIndex: Int
    @usableFromInline var length: Int
    @usableFromInline var target: FieldTarget
}

/// A template compiled for decoding: fixed record length (or not), and only the fields Mamori
/// uses, each resolved once per template rather than once per record.
///
/// Immutable and shared (a class): looking a template up for each data set then costs one
/// reference count, not one per array inside.
@usableFromInline
final class RecordLayout: Sendable {
    /// Record length when no field is variable-length.
    @usableFromInline let fixedLength: Int?
    /// Smallest possible record length (variable-length fields counted as 1 byte).
    @usableFromInline let minimumLength: Int
    /// Wire lengths of all fields, in order (65535 = variable).
    @usableFromInline let fieldLengths: [UInt16]
    @usableFromInline let extractors: [FieldExtractor]
    @usableFromInline let hasNAT: Bool
    /// For fixed-length records: the common fields at known offsets, decoded without dispatch.
    @usableFromInline let fast: FastPlan
    /// Compiled from an options template (sampling, system init time), not a flow template.
    let isOptions: Bool

    /// A record of this layout can be decoded (non-zero length).
    var isUsable: Bool { minimumLength > 0 }

    init(fields: [FieldSpecifier], scopeFieldCount: Int, isOptions: Bool, exportProtocol: ExportProtocol) {
        var offset = 0
        var variable = false
        var minimum = 0
        var candidates: [(target: FieldTarget, rank: Int, extractor: FieldExtractor)] = []
        fieldLengths = fields.map(\.length)
        for (index, field) in fields.enumerated() {
            let length = Int(field.length)
            let isScope = index < scopeFieldCount
            // NetFlow v9 scope field types (1 system, 2 interface …) are not element IDs.
            let mappable = field.enterprise == 0 && !(isScope && exportProtocol == .netflowV9)
            // Zero-length fields carry nothing (RFC 3954 §5.2) and must not shadow a present one.
            if mappable, !field.isVariableLength, length >= 1, length <= 8 || length == 16,
                let (target, rank) = RecordLayout.target(for: field.id, length: length, isOptions: isOptions),
                length <= 8 || target.isIPv6Address
            {
                candidates.append(
                    (target, rank, FieldExtractor(offset: variable ? -1 : offset, fieldIndex: index, length: length, target: target)))
            }
            if field.isVariableLength {
                variable = true
                minimum += 1
            } else {
                offset += length
                minimum += length
            }
        }
        // Keep one extractor per target: the best-ranked element that provides it.
        var best: [FieldTarget: (rank: Int, extractor: FieldExtractor)] = [:]
        for c in candidates {
            if let b = best[c.target], b.rank <= c.rank { continue }
            best[c.target] = (c.rank, c.extractor)
        }
        var chosen = best.values.map(\.extractor)
        // Egress flows report their counters in OUT_BYTES/OUT_PKTS (23/24) with IN_* at zero:
        // keep the runner-up counter as a fallback.
        for (target, fallback) in [(FieldTarget.bytes, FieldTarget.bytesFallback), (.packets, .packetsFallback)] {
            guard let first = best[target] else { continue }
            if let second = candidates.filter({ $0.target == target && $0.extractor.fieldIndex != first.extractor.fieldIndex }).min(by: {
                $0.rank < $1.rank
            }) {
                var e = second.extractor
                e.target = fallback
                chosen.append(e)
            }
        }
        let sorted = chosen.sorted { $0.fieldIndex < $1.fieldIndex }
        extractors = sorted
        fixedLength = variable ? nil : offset
        minimumLength = minimum
        hasNAT = sorted.contains { $0.target.rawValue >= FieldTarget.natEvent.rawValue }
        fast = FastPlan(extractors: variable ? [] : sorted)
        self.isOptions = isOptions
    }

    /// Maps an IETF element ID (NetFlow v9 field types share these numbers) to a target and a
    /// rank among elements that provide the same value (lower is preferred).
    static func target(for id: UInt16, length: Int, isOptions: Bool) -> (FieldTarget, Int)? {
        if isOptions {
            switch id {
            case 48, 302: return (.samplerID, 0) // flowSamplerId, selectorId
            case 34: return (.samplingInterval, 0) // samplingInterval
            case 50: return (.samplingInterval, 1) // samplerRandomInterval
            case 305: return (.samplingPacketInterval, 0)
            case 306: return (.samplingPacketSpace, 0)
            case 309: return (.samplingSize, 0)
            case 310: return (.samplingPopulation, 0)
            case 160: return (.systemInitMilliseconds, 0)
            default: return nil
            }
        }
        switch id {
        case 8 where length == 4: return (.sourceV4, 0)
        case 12 where length == 4: return (.destinationV4, 0)
        case 27 where length == 16: return (.sourceV6, 0)
        case 28 where length == 16: return (.destinationV6, 0)
        case 7: return (.sourcePort, 0)
        case 11: return (.destinationPort, 0)
        case 4: return (.ipProtocol, 0)
        case 6: return (.tcpFlags, 0)
        case 5: return (.typeOfService, 0)
        case 1: return (.bytes, 0) // octetDeltaCount
        case 23: return (.bytes, 1) // postOctetDeltaCount
        case 231: return (.bytes, 2) // initiatorOctets (NSEL)
        case 85: return (.bytes, 3) // octetTotalCount
        case 2: return (.packets, 0) // packetDeltaCount
        case 24: return (.packets, 1) // postPacketDeltaCount
        case 298: return (.packets, 2) // initiatorPackets
        case 86: return (.packets, 3) // packetTotalCount
        case 10: return (.inputInterface, 0)
        case 14: return (.outputInterface, 0)
        case 16: return (.sourceAS, 0)
        case 17: return (.destinationAS, 0)
        case 61: return (.direction, 0)
        case 22: return (.startUptime, 0)
        case 21: return (.endUptime, 0)
        case 150: return (.startSeconds, 0)
        case 151: return (.endSeconds, 0)
        case 152: return (.startMilliseconds, 0)
        case 153: return (.endMilliseconds, 0)
        case 154 where length == 8: return (.startMicroseconds, 0)
        case 155 where length == 8: return (.endMicroseconds, 0)
        case 156 where length == 8: return (.startNanoseconds, 0)
        case 157 where length == 8: return (.endNanoseconds, 0)
        case 158: return (.startDeltaMicroseconds, 0)
        case 159: return (.endDeltaMicroseconds, 0)
        case 160: return (.systemInitMilliseconds, 0)
        case 323: return (.observationMilliseconds, 0)
        case 48, 302: return (.samplerID, 0)
        case 34: return (.samplingInterval, 0)
        case 50: return (.samplingInterval, 1)
        case 305: return (.samplingPacketInterval, 0)
        case 306: return (.samplingPacketSpace, 0)
        case 230: return (.natEvent, 0)
        case 225 where length == 4: return (.postSourceV4, 0)
        case 226 where length == 4: return (.postDestinationV4, 0)
        case 281 where length == 16: return (.postSourceV6, 0)
        case 282 where length == 16: return (.postDestinationV6, 0)
        case 227: return (.postSourcePort, 0)
        case 228: return (.postDestinationPort, 0)
        case 361: return (.portRangeStart, 0)
        case 362: return (.portRangeEnd, 0)
        case 363: return (.portRangeStepSize, 0)
        case 364: return (.portRangeNumPorts, 0)
        default: return nil
        }
    }
}

/// Where one field of a fixed-length record is; offset -1 when the template lacks it.
///
/// An integer field of 1…8 bytes is read without branching on its length: the 8 bytes that end
/// where the field ends are loaded as one big-endian word (``tail`` is their offset, up to 7
/// bytes before the field, so possibly before the record: see ``FastPlan/lookbehind``) and
/// ``mask`` keeps the field's bytes. A `switch` on the length cost an indirect jump per field.
@usableFromInline
struct FieldSlot: Sendable {
    @usableFromInline var offset: Int = -1
    @usableFromInline var tail: Int = 0
    @usableFromInline var mask: UInt64 = 0
    @inlinable var isPresent: Bool { offset >= 0 }

    init() {}

    /// A field of `length` bytes (1…8, or 16 for an IPv6 address, which is loaded whole from
    /// `offset` and never through ``tail`` and ``mask``) at `offset`.
    init(offset: Int, length: Int) {
        self.offset = offset
        tail = offset + min(length, 8) - 8
        mask = length >= 8 ? .max : (1 << (8 * UInt64(length))) - 1
    }
}

/// The fields nearly every flow template carries, each at a fixed offset, so a record decodes
/// as straight-line code whose branches are the same for every record of the template (and so
/// predicted), instead of one dispatch per field. Anything else goes to ``rare``.
@usableFromInline
struct FastPlan: Sendable {
    @usableFromInline var sourceV4 = FieldSlot(), destinationV4 = FieldSlot(), sourceV6 = FieldSlot(), destinationV6 = FieldSlot()
    @usableFromInline var sourcePort = FieldSlot(), destinationPort = FieldSlot(), ipProtocol = FieldSlot(), tcpFlags = FieldSlot(),
        typeOfService = FieldSlot()
    @usableFromInline var bytes = FieldSlot(), packets = FieldSlot(), bytesFallback = FieldSlot(), packetsFallback = FieldSlot()
    @usableFromInline var inputInterface = FieldSlot(), outputInterface = FieldSlot(), sourceAS = FieldSlot(), destinationAS = FieldSlot(),
        direction = FieldSlot()
    @usableFromInline var startMilliseconds = FieldSlot(), endMilliseconds = FieldSlot(), startSeconds = FieldSlot(),
        endSeconds = FieldSlot()
    @usableFromInline var startUptime = FieldSlot(), endUptime = FieldSlot()
    /// Fields decoded through the general per-field path (NAT, sampling, other time encodings).
    @usableFromInline var rare: [FieldExtractor] = []
    @usableFromInline var hasStart = false
    @usableFromInline var hasEnd = false

    /// Bytes that must precede a record for its integer fields to be loaded through
    /// ``FieldSlot/tail``: true of every data set, which follows a message header of 16 (IPFIX)
    /// or 20 (NetFlow v9) bytes and its own 4-byte set header.
    @usableFromInline static let lookbehind = 7

    init(extractors: [FieldExtractor]) {
        for e in extractors {
            let slot = FieldSlot(offset: e.offset, length: e.length)
            switch e.target {
            case .sourceV4: sourceV4 = slot
            case .destinationV4: destinationV4 = slot
            case .sourceV6: sourceV6 = slot
            case .destinationV6: destinationV6 = slot
            case .sourcePort: sourcePort = slot
            case .destinationPort: destinationPort = slot
            case .ipProtocol: ipProtocol = slot
            case .tcpFlags: tcpFlags = slot
            case .typeOfService: typeOfService = slot
            case .bytes: bytes = slot
            case .packets: packets = slot
            case .bytesFallback: bytesFallback = slot
            case .packetsFallback: packetsFallback = slot
            case .inputInterface: inputInterface = slot
            case .outputInterface: outputInterface = slot
            case .sourceAS: sourceAS = slot
            case .destinationAS: destinationAS = slot
            case .direction: direction = slot
            case .startMilliseconds: startMilliseconds = slot
            case .endMilliseconds: endMilliseconds = slot
            case .startSeconds: startSeconds = slot
            case .endSeconds: endSeconds = slot
            case .startUptime: startUptime = slot
            case .endUptime: endUptime = slot
            default: rare.append(e)
            }
        }
        hasStart = startMilliseconds.isPresent || startSeconds.isPresent || startUptime.isPresent
        hasEnd = endMilliseconds.isPresent || endSeconds.isPresent || endUptime.isPresent
    }
}
