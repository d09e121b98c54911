import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import MamoriCore
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import Storage

/// The ports the HTTP listeners are bound to once they run (`:0` in the configuration picks a
/// free one), for the caller of ``buildApplication(configuration:dependencies:)``.
public final class HTTPListeners: Sendable {
    private let ports = NIOLockedValueBox<[Kind: Int]>([:])

    /// The two listeners `mamori serve` can have.
    public enum Kind: Sendable, Hashable {
        /// `http.listen`: the API, the console, /metrics (and the notice pages without `http.public`).
        case operators
        /// `http.public.listen`: the notice pages and /healthz only.
        case notices
    }

    /// The port `kind` is bound to; nil before it runs (or when it is not configured).
    public func port(_ kind: Kind) -> Int? { ports.withLockedValue { $0[kind] } }

    func bound(_ kind: Kind, _ channel: any Channel) {
        guard let port = channel.localAddress?.port else { return }
        ports.withLockedValue { $0[kind] = port }
    }
}

extension MamoriConfiguration {
    /// Whether answers are reached over HTTPS — served here (`http.tls`) or by a proxy in front
    /// (`http.behind_tls_proxy`): then the session cookie is Secure and every answer carries HSTS.
    var operatorListenerIsHTTPS: Bool { httpTLS != nil || httpBehindTLSProxy }

    /// The certificate of the notice pages' listener: its own, else that of `http.tls`.
    var noticeListenerTLS: TLSFiles? { httpPublic?.tls ?? httpTLS }

    /// Where subscribers open their notice page when `lawful.notice_base_url` does not say.
    var defaultNoticeBaseURL: String {
        if let p = httpPublic { return "\(noticeListenerTLS != nil ? "https" : "http")://\(p.listen)" }
        return "\(httpTLS != nil ? "https" : "http")://\(http)"
    }

    /// `https` when `http.tls` is set, else `http`: the scheme of the HTTP listener's own URLs.
    public var httpScheme: String { httpTLS != nil ? "https" : "http" }
}

extension TLSFiles {
    /// How a listener with these files speaks HTTP/1.1 over TLS (1.2 at least).
    ///
    /// The files are read now, so that a missing or unreadable file, a key every user can read, or
    /// a key that is not the certificate's is refused at start with what to fix.
    func server(context: String) throws(ConfigurationError) -> HTTPServerBuilder {
        func refuse(_ reason: String) -> ConfigurationError { ConfigurationError(line: nil, "\(context): \(reason)") }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw refuse("cannot read a PEM certificate from certificate_file \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw refuse("certificate_file \(certificateFile) holds no PEM certificate") }
        if let mode = PrivateFiles.mode(of: keyFile), mode & 0o007 != 0 {
            throw refuse(
                "key_file \(keyFile) can be read or written by every user (mode \(String(mode & 0o777, radix: 8))); "
                    + "run `chmod 600 \(keyFile)` (or 640 with a group of its own), and consider the key exposed")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw refuse("cannot read an unencrypted PEM private key from key_file \(keyFile): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: configuration)
            return try .tls(.http1(), tlsConfiguration: configuration)
        } catch {
            throw refuse("key_file \(keyFile) does not fit certificate_file \(certificateFile): \(error)")
        }
    }
}
