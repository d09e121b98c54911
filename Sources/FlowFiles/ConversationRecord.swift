import FlowCodec

/// One line of a bidirectional flow log — an Argus record (``BinetflowRecord``) or a Zeek
/// connection (``ZeekConnection``) — as up to two unidirectional flows.
///
/// What an offline replay needs to feed such logs to the detectors in start-time order.
public protocol ConversationRecord: Sendable {
    /// Originator → responder; nil when that side sent nothing.
    var forward: FlowRecord? { get }
    /// Responder → originator; nil when that side sent nothing.
    var reverse: FlowRecord? { get }
}

extension ConversationRecord {
    /// The unidirectional flows, originator's first; empty sides are left out.
    public var flows: [FlowRecord] { [forward, reverse].compactMap { $0 } }

    /// Start of the conversation, ms since the epoch (0 when neither side sent anything).
    public var startMilliseconds: Int64 { (forward ?? reverse)?.startMilliseconds ?? 0 }
}

extension BinetflowRecord: ConversationRecord {}
