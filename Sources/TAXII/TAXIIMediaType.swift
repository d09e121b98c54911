/// The media types of TAXII 2.1 and how a request's `Accept` and `Content-Type` are judged.
///
/// ```swift
/// TAXIIMediaType.acceptsTAXII("application/taxii+json;version=2.1")   // true
/// TAXIIMediaType.acceptsTAXII("text/html")                            // false: 406
/// TAXIIMediaType.isTAXII(contentType: "application/json")             // false: 415
/// ```
public enum TAXIIMediaType {
    /// Every TAXII resource, envelopes included.
    public static let taxii = "application/taxii+json;version=2.1"
    /// The media type of the STIX objects in a collection.
    public static let stix = "application/stix+json;version=2.1"

    /// Headers longer than this are not read (and so not acceptable).
    public static let maximumHeaderBytes = 2_048

    /// Whether an `Accept` header allows the TAXII 2.1 media type: no header, `*/*`,
    /// `application/*`, or `application/taxii+json` with no version or version 2.1, each with a
    /// `q` above zero.
    public static func acceptsTAXII(_ accept: String?) -> Bool {
        guard let accept else { return true }
        guard accept.utf8.count <= maximumHeaderBytes else { return false }
        for range in accept.split(separator: ",") {
            let (type, parameters) = parse(range)
            if parameters["q"].flatMap(Double.init).map({ $0 <= 0 }) == true { continue }
            switch type {
            case "*/*", "application/*": return true
            case "application/taxii+json":
                if let v = parameters["version"], v != "2.1" { continue }
                return true
            default: continue
            }
        }
        return false
    }

    /// Whether a request body's `Content-Type` is TAXII 2.1's (`application/taxii+json`, with
    /// `version=2.1` or no version).
    public static func isTAXII(contentType: String?) -> Bool {
        guard let contentType, contentType.utf8.count <= maximumHeaderBytes else { return false }
        let (type, parameters) = parse(contentType[...])
        return type == "application/taxii+json" && (parameters["version"] ?? "2.1") == "2.1"
    }

    /// A media type lower-cased without spaces, and its parameters (names lower-cased, quotes removed).
    static func parse(_ text: Substring) -> (String, [String: String]) {
        let parts = text.split(separator: ";")
        let type = (parts.first.map { String($0) } ?? "").filter { $0 != " " && $0 != "\t" }.lowercased()
        var parameters: [String: String] = [:]
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let name = kv[0].filter { $0 != " " && $0 != "\t" }.lowercased()
            let value = kv[1].filter { $0 != " " && $0 != "\t" && $0 != "\"" }
            parameters[name] = String(value)
        }
        return (type, parameters)
    }
}
