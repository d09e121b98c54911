import NIOCore

/// A message the server delivered (MSG or HMSG): its subject, the subscription it matched, the
/// reply subject if the publisher gave one, the header block of an HMSG, and the payload.
public struct NATSMessage: Hashable, Sendable {
    public var subject: String
    /// The subscription id the client chose in SUB.
    public var sid: String
    public var replyTo: String?
    /// The header block of an HMSG; nil for MSG.
    public var headers: NATSHeaders?
    public var payload: ByteBuffer

    public init(subject: String, sid: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: ByteBuffer) {
        self.subject = subject
        self.sid = sid
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// The status of the header block's version line (503 no responders, 404/408 at the end of a
    /// JetStream pull), if any.
    public var status: Int? { headers?.status }
}
