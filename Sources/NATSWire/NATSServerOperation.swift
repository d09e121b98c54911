/// What a server sends a client (the NATS client protocol's server operations).
public enum NATSServerOperation: Hashable, Sendable {
    case info(NATSServerInfo)
    /// MSG or HMSG.
    case message(NATSMessage)
    /// `+OK` (only in verbose mode, which this client does not ask for).
    case ok
    /// `-ERR '<text>'`: the text without its quotes.
    case error(String)
    case ping
    case pong
}
