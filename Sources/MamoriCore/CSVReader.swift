/// RFC 4180 CSV read incrementally from bytes, for reports that may be a million rows long.
///
/// Written here rather than taken from a CSV package: the report parsers need what those read
/// whole strings to give — bytes fed in chunks (a file or a zip member streamed, never loaded
/// whole), every record's first line number (a rejected row is named by it), a bound on each
/// field and on the fields of a record (a hostile file cannot grow a record without end), and a
/// broken record reported as such while the records around it are kept.
///
/// Quoted fields may hold commas, quotes (`""`) and line breaks; a record ends at LF or CRLF
/// outside quotes; a final record without a line break is kept; an empty line is skipped. A
/// leading UTF-8 byte-order mark is dropped.
public struct CSVReader: Sendable {
    /// Bounds on one record.
    public struct Limits: Sendable, Hashable {
        public var maximumFieldBytes: Int
        public var maximumFields: Int

        public init(maximumFieldBytes: Int = 64 * 1024, maximumFields: Int = 1024) {
            self.maximumFieldBytes = maximumFieldBytes
            self.maximumFields = maximumFields
        }
    }

    /// Why a record could not be read.
    public enum RecordError: String, Error, Sendable, Hashable {
        /// More fields than ``Limits/maximumFields``.
        case tooManyFields = "too_many_fields"
        /// A field longer than ``Limits/maximumFieldBytes``.
        case fieldTooLong = "field_too_long"
        /// A quote inside an unquoted field, or text after a closing quote.
        case strayQuote = "stray_quote"
        /// The input ended inside a quoted field.
        case unterminatedQuote = "unterminated_quote"
        /// A field that is not UTF-8.
        case invalidUTF8 = "invalid_utf8"
    }

    /// One record: its fields, or why it is broken; `line` is the line it starts on (1-based).
    public struct Record: Sendable, Hashable {
        public var line: Int
        public var fields: Result<[String], RecordError>
    }

    private enum State: Sendable {
        case fieldStart, unquoted, quoted, quoteInQuoted, afterCR
    }

    public let limits: Limits
    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var error: RecordError?
    private var line = 1
    private var recordLine = 1
    private var recordHasContent = false
    private var atStart = true
    private var bomBytes = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Reads `bytes`, calling `emit` for every record they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (Record) -> Void) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { feed(buffer: $0, emit) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { feed(buffer: $0, emit) } }
    }

    /// The byte-at-a-time state machine (``consume(_:_:)``), with runs of plain bytes inside a
    /// field taken at once: the text of an unquoted field up to the next comma, quote or line
    /// break, and of a quoted field up to the next quote. Same records, several times faster.
    private mutating func feed(buffer: UnsafeBufferPointer<UInt8>, _ emit: (Record) -> Void) {
        let quote = UInt8(ascii: "\"")
        let comma = UInt8(ascii: ",")
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        var i = 0
        while i < buffer.count {
            let b = buffer[i]
            if atStart {
                // A UTF-8 byte-order mark (EF BB BF) before the first record is not data.
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                i += 1
                if b == bom[bomBytes] {
                    bomBytes += 1
                    if bomBytes == 3 { atStart = false }
                    continue
                }
                atStart = false
                for p in bom.prefix(bomBytes) { consume(p, emit) }
                consume(b, emit)
                continue
            }
            if error == nil, state == .unquoted || state == .quoted {
                var j = i
                var breaks = 0
                if state == .unquoted {
                    while j < buffer.count, buffer[j] != comma, buffer[j] != quote, buffer[j] != lf, buffer[j] != cr { j += 1 }
                } else {
                    while j < buffer.count, buffer[j] != quote {
                        if buffer[j] == lf { breaks += 1 }
                        j += 1
                    }
                }
                if j > i {
                    line += breaks
                    append(run: UnsafeBufferPointer(rebasing: buffer[i..<j]))
                    i = j
                    continue
                }
            }
            consume(b, emit)
            i += 1
        }
    }

    /// Ends the input: emits the last record if it has no line break.
    public mutating func finish(_ emit: (Record) -> Void) {
        if atStart && bomBytes > 0 {
            atStart = false
            for p in [UInt8]([0xEF, 0xBB, 0xBF]).prefix(bomBytes) { consume(p, emit) }
        }
        switch state {
        case .quoted:
            error = error ?? .unterminatedQuote
            endRecord(emit)
        case .afterCR, .fieldStart:
            if recordHasContent || !fields.isEmpty { endRecord(emit) }
        case .unquoted, .quoteInQuoted:
            endRecord(emit)
        }
        state = .fieldStart
    }

    private mutating func consume(_ b: UInt8, _ emit: (Record) -> Void) {
        let quote = UInt8(ascii: "\"")
        let comma = UInt8(ascii: ",")
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        switch state {
        case .afterCR:
            state = .fieldStart
            if b == lf {
                line += 1
                endRecord(emit)
                return
            }
            // A lone CR ends the record (and the line) too.
            line += 1
            endRecord(emit)
            consume(b, emit)
        case .fieldStart:
            switch b {
            case quote:
                recordHasContent = true
                state = .quoted
            case comma:
                recordHasContent = true
                endField()
            case lf:
                line += 1
                endRecord(emit)
            case cr:
                state = .afterCR
            default:
                recordHasContent = true
                append(b)
                state = .unquoted
            }
        case .unquoted:
            if endsField(b, emit) { return }
            if b == quote { error = error ?? .strayQuote }
            append(b)
        case .quoted:
            if b == quote {
                state = .quoteInQuoted
            } else {
                if b == lf { line += 1 }
                append(b)
            }
        case .quoteInQuoted:
            if b == quote {
                append(quote)
                state = .quoted
            } else if !endsField(b, emit) {
                error = error ?? .strayQuote
                append(b)
                state = .unquoted
            }
        }
    }

    /// A comma, LF or CR after a field's text ends the field (or the record); false for any
    /// other byte.
    private mutating func endsField(_ b: UInt8, _ emit: (Record) -> Void) -> Bool {
        switch b {
        case UInt8(ascii: ","):
            endField()
            state = .fieldStart
        case UInt8(ascii: "\n"):
            line += 1
            endRecord(emit)
            state = .fieldStart
        case UInt8(ascii: "\r"):
            state = .afterCR
        default:
            return false
        }
        return true
    }

    /// A run of bytes of one field (as ``append(_:)`` byte by byte: past the bound, the record is broken).
    private mutating func append(run: UnsafeBufferPointer<UInt8>) {
        guard error == nil else { return }
        guard field.count + run.count <= limits.maximumFieldBytes else {
            error = .fieldTooLong
            field = []
            return
        }
        field.append(contentsOf: run)
    }

    private mutating func append(_ b: UInt8) {
        guard error == nil else { return }
        guard field.count < limits.maximumFieldBytes else {
            error = .fieldTooLong
            field = []
            return
        }
        field.append(b)
    }

    private mutating func endField() {
        defer { field.removeAll(keepingCapacity: true) }
        guard error == nil else { return }
        guard fields.count < limits.maximumFields else {
            error = .tooManyFields
            fields = []
            return
        }
        // Decoded, then compared with the bytes: any invalid sequence would have become U+FFFD.
        // (`String(validating:as:)` does the same but looks its generic types up per field.)
        let text = String(decoding: field, as: UTF8.self)
        guard text.utf8.elementsEqual(field) else {
            error = .invalidUTF8
            return
        }
        fields.append(text)
    }

    private mutating func endRecord(_ emit: (Record) -> Void) {
        endField()
        let record = Record(line: recordLine, fields: error.map { .failure($0) } ?? .success(fields))
        let empty = !recordHasContent && fields.count <= 1 && (fields.first?.isEmpty ?? true) && error == nil
        fields.removeAll(keepingCapacity: true)
        error = nil
        recordHasContent = false
        recordLine = line
        if !empty { emit(record) }
    }
}
