import FlowCodec
import SinkholeProbe

extension FuzzTarget {
    /// The input as a connection's first bytes: examined whole and with a small cap, and its
    /// prefixes checked against it. Any name that comes out is a normalised DNS name, a kept path
    /// is bounded, and a prefix that is already decided decides the whole input the same way
    /// (bytes after a complete request or ClientHello, or after a fault, change nothing) — which
    /// is what lets the listener stop reading at the first decided prefix.
    static func sinkholeProbe(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        for cap in [SinkholeProbe.defaultMaximumBytes, 64 + input.count / 2] {
            let whole = SinkholeProbe.examine(input, maximumBytes: cap)
            checkProbe(whole)
            for n in [1, input.count / 3, input.count / 2, input.count - 1] where n > 0 && n < input.count {
                let prefix = SinkholeProbe.examine(input.prefix(n), maximumBytes: cap)
                checkProbe(prefix)
                if case .incomplete = prefix { continue }
                if n >= cap { continue }
                precondition(prefix == whole, "a prefix of \(n) bytes decided \(prefix), the whole input \(whole)")
            }
            for ending in [SinkholeContact.Ending.decided, .timedOut, .closedByClient] {
                let contact = SinkholeContact(
                    client: .v4(0xC000_0201), clientPort: 40000, localPort: 80, milliseconds: now, received: input.count, result: whole,
                    ending: ending)
                precondition(contact.name == whole.name, "the contact keeps the probe's name")
            }
        }
    }

    static func checkProbe(_ result: SinkholeProbeResult) {
        if let name = result.name {
            precondition(HostName.normalise(Array(name.utf8)) == name, "a name that is not a normalised DNS name: \(name)")
        }
        if case .http(let request) = result {
            precondition(request.path.utf8.count <= ProbedHTTPRequest.maximumPathLength, "a path longer than the bound")
            precondition(request.host == nil || request.hostAddress == nil, "both a host name and an address")
        }
    }
}
