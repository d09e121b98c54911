import Foundation

/// CSV as RFC 4180 writes it, for the call-centre export: a field with a comma, a double quote,
/// a line feed or a carriage return is quoted, its quotes doubled; records end with CRLF.
/// A spreadsheet then shows an SMTP reply of several lines in one cell, and no outcome text can
/// start a new record or shift the columns.
public enum CSV {
    /// One field, quoted when it needs to be.
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record: the fields joined by commas, ending with CRLF.
    public static func record(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }
}
