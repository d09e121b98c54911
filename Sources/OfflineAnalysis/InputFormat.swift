import Foundation

/// What the input files of an offline analysis hold.
public enum InputFormat: String, Sendable, Hashable, CaseIterable {
    /// A pcap of NetFlow v5/v9, IPFIX or sFlow v5 export datagrams.
    case pcap
    /// Argus bidirectional flow text as the Stratosphere CTU-13 datasets publish it.
    case binetflow
    /// nfdump's binary files as nfcapd 1.6 or 1.7 writes them (uncompressed or LZ4).
    case nfcapd
    /// Zeek conn.logs, tab-separated or JSON lines.
    case zeek

    /// Whether files of this format can carry a label column (ground truth per flow).
    public var carriesLabels: Bool { self == .binetflow || self == .zeek }

    /// The format the files' names (and, for Zeek, first bytes) suggest: zeek for `*conn*.log`
    /// files or files starting with `#separator` or `{`, binetflow for .binetflow/.csv/.tsv files,
    /// nfcapd for files named nfcapd.*, pcap otherwise. Every file must agree.
    public static func guess(for files: [String]) -> InputFormat {
        let textExtensions = [".binetflow", ".csv", ".tsv"]
        let looksLikeText = files.allSatisfy { file in textExtensions.contains { file.lowercased().hasSuffix($0) } }
        let looksLikeNfcapd = files.allSatisfy { URL(fileURLWithPath: $0).lastPathComponent.hasPrefix("nfcapd.") }
        return looksLikeZeekConnLog(files) ? .zeek : looksLikeText ? .binetflow : looksLikeNfcapd ? .nfcapd : .pcap
    }

    /// Whether every file looks like a Zeek conn.log: its name contains `conn` and ends in `.log`,
    /// or its first line is Zeek's `#separator` header or a JSON object.
    static func looksLikeZeekConnLog(_ files: [String]) -> Bool {
        !files.isEmpty
            && files.allSatisfy { file in
                let name = URL(fileURLWithPath: file).lastPathComponent.lowercased()
                if name.contains("conn") && name.hasSuffix(".log") { return true }
                guard let handle = FileHandle(forReadingAtPath: file) else { return false }
                defer { try? handle.close() }
                let head = (try? handle.read(upToCount: 64)) ?? Data()
                let text = String(decoding: head, as: UTF8.self).drop(while: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\u{FEFF}" })
                return text.hasPrefix("#separator") || text.hasPrefix("{")
            }
    }
}
