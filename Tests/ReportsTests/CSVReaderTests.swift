import MamoriCore
import Reports
import Testing

@Suite struct CSVReaderTests {
    static func read(_ text: String, chunk: Int = .max, limits: CSVReader.Limits = CSVReader.Limits()) -> [CSVReader.Record] {
        read(Array(text.utf8), chunk: chunk, limits: limits)
    }

    static func read(_ bytes: [UInt8], chunk: Int = .max, limits: CSVReader.Limits = CSVReader.Limits()) -> [CSVReader.Record] {
        var reader = CSVReader(limits: limits)
        var out: [CSVReader.Record] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let piece = rest.prefix(chunk)
            rest = rest.dropFirst(piece.count)
            reader.feed(piece) { out.append($0) }
        }
        reader.finish { out.append($0) }
        return out
    }

    @Test("RFC 4180: quoted commas, doubled quotes, line breaks in quotes, CRLF and LF, empty fields, a last line without a break")
    func rfc4180() throws {
        let text = "\u{FEFF}\"a\",b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\r\n\"two\nlines\",,z\n\nlast,row,here"
        let records = Self.read(text)
        #expect(records.map(\.line) == [1, 2, 3, 6], "an empty line is skipped; a record starts where its first field does")
        #expect(try records[0].fields.get() == ["a", "b", "c"], "the byte-order mark is not data")
        #expect(try records[1].fields.get() == ["x, y", "say \"hi\"", ""])
        #expect(try records[2].fields.get() == ["two\nlines", "", "z"])
        #expect(try records[3].fields.get() == ["last", "row", "here"])
        // Fed a byte at a time, the same records.
        #expect(Self.read(text, chunk: 1) == records)
        // A lone CR (old Mac line ends) ends the record and the line: every record has its own line
        // (found by the fuzzer: two broken records on "one" line came out of line order).
        let mac = Self.read("a,b\rc,d\r\ne\rf\n")
        #expect(mac.map(\.line) == [1, 2, 3, 4], "\(mac)")
        #expect(try mac.map { try $0.fields.get() } == [["a", "b"], ["c", "d"], ["e"], ["f"]])
    }

    @Test("a broken record is reported with its line and the records around it are kept")
    func brokenRecords() throws {
        let records = Self.read("ok,1\nbad\"quote,2\n\"closed\"x,3\nok,4\n\"never closed,5\n")
        #expect(records.count == 5, "\(records)")
        #expect(try records[0].fields.get() == ["ok", "1"])
        #expect(records[1].fields == .failure(.strayQuote) && records[1].line == 2)
        #expect(records[2].fields == .failure(.strayQuote) && records[2].line == 3)
        #expect(try records[3].fields.get() == ["ok", "4"])
        #expect(records[4].fields == .failure(.unterminatedQuote) && records[4].line == 5)
        let unterminated = Self.read("a,b\n\"open\n")
        #expect(unterminated.last?.fields == .failure(.unterminatedQuote) && unterminated.last?.line == 2)
    }

    @Test("bounds: too many fields, a field too long and invalid UTF-8 break only their record")
    func bounds() throws {
        let limits = CSVReader.Limits(maximumFieldBytes: 8, maximumFields: 3)
        let records = Self.read(
            Array("a,b,c,d\n123456789,x\nok,ok\n".utf8) + [0xFF, 0xFE] + Array(",x\nfine\n".utf8), limits: limits)
        #expect(
            records.map(\.fields) == [
                .failure(.tooManyFields), .failure(.fieldTooLong), .success(["ok", "ok"]), .failure(.invalidUTF8), .success(["fine"]),
            ])
        // A field of a megabyte of quotes is held to the bound, not kept.
        let huge = "\"" + String(repeating: "\"\"", count: 500_000) + "\"\nafter\n"
        #expect(Self.read(huge, chunk: 4096).map(\.fields) == [.failure(.fieldTooLong), .success(["after"])])
    }
}
