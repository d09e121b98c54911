/// Each reported problem in words a subscriber understands, in Japanese and English: what was
/// found, why it matters, and how to fix it. The notices of vulnerable-device and abuse-report
/// cases are built from these.
public enum ReportedProblemText {
    public struct Text: Sendable, Hashable {
        /// What was found, one sentence each.
        public var found: [String]
        /// Why it matters.
        public var why: [String]
        /// How to fix it, in order.
        public var steps: [String]
    }

    /// The text for `p`. Names (service, device) come from reports and are cleaned by the caller.
    public static func text(_ p: ReportedProblem, japanese ja: Bool) -> Text {
        let service = p.service.map { $0.lowercased() }
        let port = p.port.map { "\($0)" + (p.transport.map { "/\($0)" } ?? "") }
        let on = port.map { ja ? "（ポート番号 \($0)）" : " (port \($0))" } ?? ""
        let device = p.device.map { ja ? "（\($0)）" : " (\($0))" } ?? ""
        var t: Text
        switch p.problem {
        case "open-resolver":
            t = Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)が、インターネット上の誰からのDNSの問い合わせにも答える状態（オープンリゾルバー）になっています\(on)。"
                        : "A device connected to your line\(device) answers DNS queries from anyone on the Internet (it is an \"open resolver\")\(on)."
                ],
                why: [
                    ja
                        ? "攻撃者が送信元を偽った問い合わせを送ると、この機器の応答が第三者に大量に送りつけられ、攻撃（DNSリフレクション攻撃）に使われてしまいます。"
                        : "Attackers send it queries with a forged sender, so that its answers flood someone else (a DNS amplification attack)."
                ],
                steps: [
                    ja
                        ? "ルーターの設定画面で、インターネット（WAN）側からのDNSの問い合わせに答える機能（DNSサーバー、DNSリレー、DNSプロキシ）を無効にしてください。"
                        : "In your router's settings, turn off answering DNS queries from the Internet (WAN) side (the DNS server, DNS relay or DNS proxy function).",
                    ja
                        ? "ご自宅や事務所のパソコンやNASでDNSサーバー（BIND、Unbound、dnsmasqなど）を動かしている場合は、ご自身のネットワークからの問い合わせにだけ答えるように設定してください。"
                        : "If a computer or NAS of yours runs a DNS server (BIND, Unbound, dnsmasq…), let it answer only your own network.",
                ])
        case "amplifier":
            t = amplifier(service: service, on: on, device: device, ja: ja)
        case "exposed-service":
            let name = service.map { serviceNames[$0] ?? $0.uppercased() } ?? (ja ? "管理用の機能" : "a management service")
            t = Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)の\(name)\(on)が、インターネット上の誰からでも接続できる状態になっています。"
                        : "A device connected to your line\(device) has \(name)\(on) open to anyone on the Internet."
                ],
                why: [
                    ja
                        ? "攻撃者はこうした機能に昼夜を問わずパスワードを試しています。乗っ取られた機器は、ボットネットに組み込まれて他者への攻撃に使われます。"
                        : "Attackers try passwords on such services day and night; devices taken over this way are made part of botnets and used to attack others."
                ],
                steps: [
                    ja
                        ? "使っていない場合は、機器の設定で\(name)を無効にしてください。使う場合は、ご自宅のネットワークからだけ接続できるようにしてください（ルーターのポート開放を閉じる）。"
                        : "If you do not use \(name), turn it off in the device's settings; if you do, allow it only from your own network (close the port forwarding on your router).",
                    ja
                        ? "機器のパスワードを、他人に推測されにくい長いものに変更してください。"
                        : "Change the device's password to a long one that others cannot guess.",
                ])
        case "weak-credentials":
            t = Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)に、購入時のまま（初期設定）のパスワードや推測されやすいパスワードでログインできる状態であることが確認されました\(on)。"
                        : "A device connected to your line\(device) can be logged into with its default password or an easily guessed one\(on)."
                ],
                why: [
                    ja
                        ? "インターネット上の誰もが機器を操作できてしまいます（カメラの映像を見る、設定を変える、他者への攻撃に使うなど）。"
                        : "Anyone on the Internet can control the device: watch a camera's picture, change its settings, or use it to attack others."
                ],
                steps: [
                    ja
                        ? "機器のパスワードを、他人に推測されにくい長いものに変更してください（機器本体や説明書に書かれているものは使わないでください）。"
                        : "Change the device's password to a long one that others cannot guess (not the one printed on the device or in its manual).",
                    ja
                        ? "使っていない遠隔操作の機能（Telnet、インターネットからの設定画面など）は無効にしてください。"
                        : "Turn off remote access you do not use (Telnet, the settings page reachable from the Internet).",
                ])
        case "spam":
            t = Text(
                found: [
                    ja
                        ? "\(p.source)から、お客様の回線から送信された迷惑メール（スパム）を受け取ったとの通報がありました。"
                        : "\(p.source) reported receiving unwanted e-mail (spam) sent from your line."
                ],
                why: [
                    ja
                        ? "迷惑メールを送る機器の多くはマルウェアに感染しています。送信が続くと、他社がお客様の回線からのメールを受け取らなくなることがあります。"
                        : "A device that sends spam is usually infected with malware; if it goes on, other networks may stop accepting mail from your line."
                ],
                steps: [
                    ja
                        ? "メールのアカウントのパスワードを変更してください（盗まれたパスワードで迷惑メールが送られることがあります）。"
                        : "Change the password of your e-mail accounts (stolen passwords are used to send spam).",
                    ja
                        ? "メールサーバーを運用している場合は、第三者中継（オープンリレー）になっていないこと、アカウントのパスワードが強いことを確認してください。"
                        : "If you run a mail server, make sure it does not relay mail for others (an open relay) and its accounts have strong passwords.",
                ])
        case "attacking":
            let what = service.map { ja ? "（\($0)）" : " (\($0))" } ?? ""
            t = Text(
                found: [
                    ja
                        ? "\(p.source)から、お客様の回線に接続された機器が同社のシステムに攻撃\(what)を行ったとの通報がありました。"
                        : "\(p.source) reported that a device connected to your line attacked their systems\(what)."
                ],
                why: [
                    ja
                        ? "機器が乗っ取られ、知らないうちに攻撃に使われている可能性があります。"
                        : "The device has probably been taken over and is being used to attack others without your knowledge."
                ],
                steps: [])
        default: // infected, and anything else reported
            let family = p.family.map { ja ? "（マルウェアの種類: \($0)）" : " (malware family: \($0))" } ?? ""
            t = Text(
                found: [
                    ja
                        ? "\(p.source)から、お客様の回線に接続された機器が、マルウェアに感染した機器に特有の通信を行っていたとの報告がありました\(family)。"
                        : "\(p.source) reported that a device connected to your line behaved as devices infected with malicious software do\(family)."
                ],
                why: [
                    ja
                        ? "機器がマルウェアに感染していて、知らないうちに他の方への攻撃に使われるおそれがあります。"
                        : "The device may be infected and used, without your knowledge, to attack others."
                ],
                steps: [])
        }
        if let end = p.endOfSupport {
            t.found.append(
                ja
                    ? "この機器\(device)は、\(end)にメーカーのサポートが終了しており、今後セキュリティの更新が提供されません。"
                    : "This device\(device) has been out of its maker's support since \(end): it gets no more security updates.")
            t.steps.insert(
                ja
                    ? "サポートが終了した機器は、修正が提供されないため、サポート中の機種への買い替えをご検討ください。買い替えまでの間は、インターネットからの接続を受け付ける機能を無効にしてください。"
                    : "A device out of support will not be fixed: please replace it with a model that still gets security updates, and until then turn off everything in it that the Internet can reach.",
                at: 0)
        }
        return t
    }

    /// How a notice names a service a reporter tags.
    static let serviceNames = [
        "telnet": "Telnet", "cwmp": "TR-069 (CWMP)", "rdp": "RDP", "vnc": "VNC", "smb": "SMB", "mqtt": "MQTT", "ftp": "FTP",
        "ssh": "SSH", "http": "HTTP", "https": "HTTPS", "dvr_dhcpdiscover": "DVR discovery", "telnet-alt": "Telnet",
    ]

    private static func amplifier(service: String?, on: String, device: String, ja: Bool) -> Text {
        let why =
            ja
            ? "攻撃者が送信元を偽った小さな要求を送ると、この機器が大きな応答を第三者に送りつけ、攻撃（リフレクション攻撃）に使われてしまいます。お客様の回線が遅くなることもあります。"
            : "Attackers send it small requests with a forged sender, so that its much larger answers flood someone else (a reflection attack); it can also slow your connection."
        switch service {
        case "ntp", "ntpmonitor", "ntp-monitor":
            return Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)が、インターネット上の誰からのNTP（時刻合わせ）の問い合わせにも答えています\(on)。"
                        : "A device connected to your line\(device) answers NTP (time) queries from anyone on the Internet\(on)."
                ], why: [why],
                steps: [
                    ja
                        ? "機器のファームウェアやNTPソフトウェアを最新版に更新し、インターネット側からのNTPの問い合わせ（特に monlist）に答えないよう設定してください。"
                        : "Update the device's firmware or NTP software and stop it answering NTP queries (monlist above all) from the Internet."
                ])
        case "ssdp", "upnp":
            return Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)が、インターネット側からのUPnP（SSDP）の問い合わせに答えています\(on)。"
                        : "A device connected to your line\(device) answers UPnP (SSDP) discovery requests from the Internet\(on)."
                ], why: [why],
                steps: [
                    ja
                        ? "ルーターの設定画面で、インターネット（WAN）側のUPnPを無効にしてください。"
                        : "In your router's settings, turn off UPnP on the Internet (WAN) side.",
                    ja ? "ルーターのファームウェアを最新版に更新してください。" : "Update the router's firmware.",
                ])
        case "memcached":
            return Text(
                found: [
                    ja
                        ? "お客様の回線で動いているmemcachedサーバー\(device)に、インターネット上の誰からでも接続できます\(on)。"
                        : "A memcached server on your line\(device) is reachable from anyone on the Internet\(on)."
                ], why: [why],
                steps: [
                    ja
                        ? "memcachedを内部のネットワークだけで待ち受けるようにし（例: -l 127.0.0.1）、UDPを無効にしてください（-U 0）。"
                        : "Make memcached listen on your internal network only (for example -l 127.0.0.1) and turn off its UDP port (-U 0)."
                ])
        default:
            let name = service.map { $0.uppercased() } ?? (ja ? "UDPのサービス" : "a UDP service")
            return Text(
                found: [
                    ja
                        ? "お客様の回線に接続された機器\(device)の\(name)が、インターネット上の誰からの要求にも大きな応答を返しています\(on)。"
                        : "A device connected to your line\(device) runs \(name), which answers anyone on the Internet with large replies\(on)."
                ], why: [why],
                steps: [
                    ja
                        ? "使っていない場合は、機器の設定で\(name)を無効にするか、ルーターでインターネットからの接続を遮断してください。"
                        : "If you do not use \(name), turn it off in the device's settings, or block it from the Internet in your router."
                ])
        }
    }
}
