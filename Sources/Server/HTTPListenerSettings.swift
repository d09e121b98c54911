import MamoriCore

/// A certificate chain and its private key, both PEM files (`http.tls`, `http.public.tls`).
public struct TLSFiles: Sendable, Equatable {
    /// The server's certificate first, then any intermediates.
    public var certificateFile: String
    /// The private key of the first certificate (unencrypted PEM, mode 0600).
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// The listener of the subscribers' notice pages (`http.public`): when set, `GET /notice/{token}`
/// and its two forms are served there (with `/healthz`) and nowhere else, so the operator
/// interface never has to face the Internet.
public struct PublicListenerSettings: Sendable, Equatable {
    public var listen: SocketEndpoint
    /// Its own certificate; nil takes `http.tls` (and with neither, plain HTTP).
    public var tls: TLSFiles?

    public init(listen: SocketEndpoint, tls: TLSFiles? = nil) {
        self.listen = listen
        self.tls = tls
    }
}
