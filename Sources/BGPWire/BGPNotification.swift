/// A NOTIFICATION message (RFC 4271 §4.5): an error code, a subcode and data, after which the
/// connection is closed. Codes and subcodes are those of RFC 4271 §6, RFC 4486 (Cease) and
/// RFC 7313 (ROUTE-REFRESH message errors).
public struct BGPNotification: Sendable, Hashable, Error, CustomStringConvertible {
    public var code: UInt8
    public var subcode: UInt8
    public var data: [UInt8]

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = []) {
        self.code = code
        self.subcode = subcode
        self.data = data
    }

    // Error codes.
    public static let messageHeaderError: UInt8 = 1
    public static let openMessageError: UInt8 = 2
    public static let updateMessageError: UInt8 = 3
    public static let holdTimerExpired: UInt8 = 4
    public static let finiteStateMachineError: UInt8 = 5
    public static let cease: UInt8 = 6
    public static let routeRefreshMessageError: UInt8 = 7

    // Message header error subcodes.
    public static func connectionNotSynchronized() -> BGPNotification { .init(code: 1, subcode: 1) }
    public static func badMessageLength(_ length: UInt16) -> BGPNotification {
        .init(code: 1, subcode: 2, data: [UInt8(length >> 8), UInt8(length & 0xFF)])
    }
    public static func badMessageType(_ type: UInt8) -> BGPNotification { .init(code: 1, subcode: 3, data: [type]) }

    // OPEN message error subcodes.
    public static func unsupportedVersion(supported: UInt16 = 4) -> BGPNotification {
        .init(code: 2, subcode: 1, data: [UInt8(supported >> 8), UInt8(supported & 0xFF)])
    }
    public static func badPeerAS() -> BGPNotification { .init(code: 2, subcode: 2) }
    public static func badBGPIdentifier() -> BGPNotification { .init(code: 2, subcode: 3) }
    public static func unsupportedOptionalParameter() -> BGPNotification { .init(code: 2, subcode: 4) }
    public static func unacceptableHoldTime() -> BGPNotification { .init(code: 2, subcode: 6) }

    // UPDATE message error subcodes.
    public static func malformedAttributeList() -> BGPNotification { .init(code: 3, subcode: 1) }
    public static func unrecognizedWellKnownAttribute(_ attribute: [UInt8]) -> BGPNotification {
        .init(code: 3, subcode: 2, data: attribute)
    }
    public static func missingWellKnownAttribute(_ type: UInt8) -> BGPNotification { .init(code: 3, subcode: 3, data: [type]) }
    public static func attributeFlagsError(_ attribute: [UInt8]) -> BGPNotification { .init(code: 3, subcode: 4, data: attribute) }
    public static func attributeLengthError(_ attribute: [UInt8]) -> BGPNotification { .init(code: 3, subcode: 5, data: attribute) }
    public static func invalidOrigin(_ attribute: [UInt8]) -> BGPNotification { .init(code: 3, subcode: 6, data: attribute) }
    public static func invalidNextHop(_ attribute: [UInt8]) -> BGPNotification { .init(code: 3, subcode: 8, data: attribute) }
    public static func optionalAttributeError(_ attribute: [UInt8]) -> BGPNotification { .init(code: 3, subcode: 9, data: attribute) }
    public static func invalidNetworkField() -> BGPNotification { .init(code: 3, subcode: 10) }
    public static func malformedASPath() -> BGPNotification { .init(code: 3, subcode: 11) }

    public static func holdTimerExpiry() -> BGPNotification { .init(code: 4, subcode: 0) }
    /// RFC 6608: a message the state does not expect (subcode 1 OpenSent, 2 OpenConfirm, 3 Established).
    public static func unexpectedMessage(inState subcode: UInt8) -> BGPNotification { .init(code: 5, subcode: subcode) }

    // Cease subcodes (RFC 4486).
    public static func administrativeShutdown(_ reason: String = "") -> BGPNotification {
        // RFC 9003: a length octet and up to 255 octets of UTF-8.
        let text = Array(reason.utf8.prefix(255))
        return .init(code: 6, subcode: 2, data: text.isEmpty ? [] : [UInt8(text.count)] + text)
    }
    public static func peerDeconfigured() -> BGPNotification { .init(code: 6, subcode: 3) }
    public static func administrativeReset() -> BGPNotification { .init(code: 6, subcode: 4) }
    public static func connectionRejected() -> BGPNotification { .init(code: 6, subcode: 5) }
    public static func outOfResources() -> BGPNotification { .init(code: 6, subcode: 8) }

    /// `3/1 UPDATE Message Error / Malformed Attribute List`, for logs and metrics.
    public var description: String {
        var text = "\(code)/\(subcode) \(codeName)"
        if let sub = subcodeName { text += " / \(sub)" }
        if code == 6, subcode == 2 || subcode == 4, let n = data.first, data.count >= 1 + Int(n), n > 0 {
            text += ": \"" + String(decoding: data[1...Int(n)], as: UTF8.self) + "\""
        }
        return text
    }

    public var codeName: String {
        switch code {
        case 1: "Message Header Error"
        case 2: "OPEN Message Error"
        case 3: "UPDATE Message Error"
        case 4: "Hold Timer Expired"
        case 5: "Finite State Machine Error"
        case 6: "Cease"
        case 7: "ROUTE-REFRESH Message Error"
        default: "error code \(code)"
        }
    }

    public var subcodeName: String? {
        switch (code, subcode) {
        case (1, 1): "Connection Not Synchronized"
        case (1, 2): "Bad Message Length"
        case (1, 3): "Bad Message Type"
        case (2, 1): "Unsupported Version Number"
        case (2, 2): "Bad Peer AS"
        case (2, 3): "Bad BGP Identifier"
        case (2, 4): "Unsupported Optional Parameter"
        case (2, 6): "Unacceptable Hold Time"
        case (2, 7): "Unsupported Capability"
        case (3, 1): "Malformed Attribute List"
        case (3, 2): "Unrecognized Well-known Attribute"
        case (3, 3): "Missing Well-known Attribute"
        case (3, 4): "Attribute Flags Error"
        case (3, 5): "Attribute Length Error"
        case (3, 6): "Invalid ORIGIN Attribute"
        case (3, 8): "Invalid NEXT_HOP Attribute"
        case (3, 9): "Optional Attribute Error"
        case (3, 10): "Invalid Network Field"
        case (3, 11): "Malformed AS_PATH"
        case (5, 1): "Receive Unexpected Message in OpenSent State"
        case (5, 2): "Receive Unexpected Message in OpenConfirm State"
        case (5, 3): "Receive Unexpected Message in Established State"
        case (6, 1): "Maximum Number of Prefixes Reached"
        case (6, 2): "Administrative Shutdown"
        case (6, 3): "Peer De-configured"
        case (6, 4): "Administrative Reset"
        case (6, 5): "Connection Rejected"
        case (6, 6): "Other Configuration Change"
        case (6, 7): "Connection Collision Resolution"
        case (6, 8): "Out of Resources"
        case (6, 9): "Hard Reset"
        case (7, 1): "Invalid Message Length"
        default: nil
        }
    }
}
