import Foundation

/// TAXII's envelope: reading one a client posts, and writing one around stored objects' JSON.
public enum TAXIIEnvelope {
    /// Bounds on what a client may post in one request.
    public struct Limits: Sendable, Hashable {
        /// Bytes of the request body (the API root's `max_content_length`).
        public var maximumBytes: Int
        /// Objects in one envelope.
        public var maximumObjects: Int
        /// Bytes of one object, as re-serialised.
        public var maximumObjectBytes: Int

        public init(maximumBytes: Int = 10 * 1024 * 1024, maximumObjects: Int = 10_000, maximumObjectBytes: Int = 256 * 1024) {
            self.maximumBytes = maximumBytes
            self.maximumObjects = maximumObjects
            self.maximumObjectBytes = maximumObjectBytes
        }
    }

    /// The objects of a posted envelope, each checked (``TAXIICandidate/validate(_:)``).
    /// Throws 413 past the byte or object bounds, 400 when the body is not an envelope (a JSON
    /// object whose `objects` is a non-empty list).
    public static func parse(_ body: Data, limits: Limits) throws(TAXIIError) -> [Result<TAXIICandidate, TAXIIObjectProblem>] {
        guard body.count <= limits.maximumBytes else {
            throw TAXIIError(.tooLarge, "the envelope is larger than max_content_length (\(limits.maximumBytes) bytes)")
        }
        let top: Any
        do {
            top = try JSONSerialization.jsonObject(with: body, options: [])
        } catch {
            throw TAXIIError(.badRequest, "the body is not JSON")
        }
        guard let envelope = top as? [String: Any] else {
            throw TAXIIError(.badRequest, "the body must be an envelope: {\"objects\": [...]}")
        }
        guard let objects = envelope["objects"] as? [Any], !objects.isEmpty else {
            throw TAXIIError(.badRequest, "the envelope's 'objects' must be a non-empty list")
        }
        guard objects.count <= limits.maximumObjects else {
            throw TAXIIError(.tooLarge, "at most \(limits.maximumObjects) objects per envelope; this one has \(objects.count)")
        }
        return objects.map { o in
            TAXIICandidate.validate(o).flatMap { c in
                c.json.count <= limits.maximumObjectBytes
                    ? .success(c)
                    : .failure(
                        TAXIIObjectProblem(id: c.id, version: c.version?.description, "larger than \(limits.maximumObjectBytes) bytes"))
            }
        }
    }

    /// An envelope around stored objects' JSON: `{"more": …, "next": …, "objects": [...]}`
    /// (`objects` left out when there are none, as TAXII's lists are never empty).
    public static func encode(more: Bool, next: String?, objects: [Data]) -> Data {
        var out = Data("{\"more\":\(more ? "true" : "false")".utf8)
        if let next {
            out.append(contentsOf: ",\"next\":".utf8)
            out.append(TAXIIJSON.encode(next))
        }
        if !objects.isEmpty {
            out.append(contentsOf: ",\"objects\":[".utf8)
            for (i, o) in objects.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(o)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
