import MamoriCore

/// Reads CDRs from bytes as they arrive (a file followed, an upload), in any of the formats, and
/// never holds more than one line: every record read or refused is handed on with its line.
/// A record later than ``notAfter`` is refused as ``CDRRejection/future``.
public struct CDRReader: Sendable {
    public enum Format: Sendable, Hashable {
        case asterisk(AsteriskCDRFormat)
        case kamailio(KamailioAccFormat)
        /// A CSV with a header, read through a mapping.
        case mapped(CDRMapping)
    }

    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// A mapped CSV whose header lacks columns: nothing in it can be read.
        case header(CDRMapping.MissingColumns)
        public var description: String {
            switch self {
            case .header(let m): m.description
            }
        }
    }

    public let format: Format
    /// The latest start time taken (the reader's clock plus the skew allowed); nil: no bound.
    public var notAfter: Int64?
    private var csv: CSVReader
    private var positions: [String: Int]?
    private var lines: LineSplitter
    public private(set) var failure: Failure?

    public init(
        format: Format, notAfter: Int64? = nil, limits: CSVReader.Limits = CSVReader.Limits(maximumFieldBytes: 4096, maximumFields: 256)
    ) {
        self.format = format
        self.notAfter = notAfter
        csv = CSVReader(limits: limits)
        lines = LineSplitter(maximumLineBytes: 16 * 1024)
    }

    /// Reads `bytes`, calling `emit` for every line they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (CDRLine) -> Void) {
        switch format {
        case .kamailio(let k):
            let bound = notAfter
            lines.feed(bytes) { n, line in
                if let r = k.record(line: line) { emit(Self.bounded(CDRLine(line: n, result: r), bound)) }
            }
        case .asterisk, .mapped:
            var reader = csv
            reader.feed(bytes) { take($0, emit) }
            csv = reader
        }
    }

    /// Ends the input: a last line without a line break is read too.
    public mutating func finish(_ emit: (CDRLine) -> Void) {
        switch format {
        case .kamailio(let k):
            let bound = notAfter
            lines.finish { n, line in
                if let r = k.record(line: line) { emit(Self.bounded(CDRLine(line: n, result: r), bound)) }
            }
        case .asterisk, .mapped:
            var reader = csv
            reader.finish { take($0, emit) }
            csv = reader
        }
    }

    private mutating func take(_ record: CSVReader.Record, _ emit: (CDRLine) -> Void) {
        guard failure == nil else { return }
        let fields: [String]
        switch record.fields {
        case .failure: return emit(CDRLine(line: record.line, result: .failure(.malformed)))
        case .success(let f): fields = f
        }
        let result: Result<CallRecord, CDRRejection>
        switch format {
        case .asterisk(let a): result = a.record(fields)
        case .mapped(let m):
            guard let p = positions else {
                switch m.positions(in: fields) {
                case .success(let p): positions = p
                case .failure(let missing): failure = .header(missing)
                }
                return
            }
            result = m.record(fields, positions: p)
        case .kamailio: return
        }
        emit(Self.bounded(CDRLine(line: record.line, result: result), notAfter))
    }

    private static func bounded(_ line: CDRLine, _ notAfter: Int64?) -> CDRLine {
        guard let notAfter, case .success(let r) = line.result, r.start > notAfter else { return line }
        return CDRLine(line: line.line, result: .failure(.future))
    }
}

/// Lines from bytes fed in pieces: LF or CRLF ends one; a line longer than the bound is cut there
/// (and what follows up to its end is dropped) so a file with no line break cannot grow memory.
struct LineSplitter: Sendable {
    let maximumLineBytes: Int
    private var buffer: [UInt8] = []
    private var overlong = false
    private var line = 0

    init(maximumLineBytes: Int) { self.maximumLineBytes = maximumLineBytes }

    mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (Int, Substring) -> Void) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { feed(buffer: $0, emit) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { feed(buffer: $0, emit) } }
    }

    /// Runs of bytes up to each line break are taken at once.
    private mutating func feed(buffer: UnsafeBufferPointer<UInt8>, _ emit: (Int, Substring) -> Void) {
        var i = 0
        while i < buffer.count {
            var j = i
            while j < buffer.count, buffer[j] != 0x0A { j += 1 }
            let room = maximumLineBytes - self.buffer.count
            if j - i > room {
                if room > 0 { self.buffer.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<(i + room)])) }
                overlong = true
            } else {
                self.buffer.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<j]))
            }
            if j < buffer.count { end(emit) }
            i = j + 1
        }
    }

    mutating func finish(_ emit: (Int, Substring) -> Void) {
        if !buffer.isEmpty || overlong { end(emit) }
    }

    private mutating func end(_ emit: (Int, Substring) -> Void) {
        line += 1
        if buffer.last == 0x0D { buffer.removeLast() }
        // An overlong line is handed on cut, so its reader refuses it with its line number.
        let text = String(decoding: buffer, as: UTF8.self)
        emit(line, overlong ? Substring(text + "\u{0}") : Substring(text))
        buffer.removeAll(keepingCapacity: true)
        overlong = false
    }
}
