/// One line of a bidirectional flow log — an Argus record (``BinetflowRecord``) or a Zeek
/// connection (``ZeekConnection``) — as up to two unidirectional flows.
///
/// What an offline replay needs to feed such logs to the detectors in start-time order.
public protocol ConversationRecord: Sendable {
    /// Start of the conversation, ms since the epoch.
    var startMilliseconds: Int64 { get }
    /// The unidirectional flows, originator's first; empty sides are left out.
    var flows: [FlowRecord] { get }
}

extension BinetflowRecord: ConversationRecord {}
