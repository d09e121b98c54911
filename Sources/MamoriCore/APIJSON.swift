import Foundation

/// The JSON that Mamori shows the outside: every answer of the HTTP API (`/api/v1/...`) and
/// `mamori analyze --json`. Every key is snake_case (`detected_at`, `cohort_size`,
/// `held_from`), whatever the Swift property is called.
///
/// The values' own `Codable` keeps the property names (`detectedAt`): that is the form the stores
/// write (a finding is kept as JSON in `findings.sqlite`, a case in `cases.sqlite`), so files
/// written by earlier versions stay readable. Only the edge converts.
///
/// ```swift
/// let data = try APIJSON.encoder().encode(finding)      // {"cohort_size":3,…,"detected_at":…}
/// let back = try APIJSON.decoder().decode(Finding.self, from: data)
/// ```
public enum APIJSON {
    /// Sorted snake_case keys, slashes unescaped.
    ///
    /// Keys a type names explicitly in its `CodingKeys` (already snake_case, such as
    /// `held_from`) pass unchanged, and so do the keys of a `[String: …]` dictionary (addresses,
    /// pseudonyms, action names are data, not names).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    /// Reads what ``encoder()`` writes into a type whose coding keys are its property names
    /// (`Finding`, `LawfulCase`): `detected_at` and, as versions before issue 19 wrote it,
    /// `detectedAt` alike.
    ///
    /// Not for a type with explicit snake_case `CodingKeys` (`held_from`): Foundation converts the
    /// JSON's key to `heldFrom` before it compares, so such a key is never found. Decode those with
    /// a plain `JSONDecoder`.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
