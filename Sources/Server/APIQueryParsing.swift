import Attribution
import Detection
import Hummingbird
import HummingbirdCore
import MamoriCore
import TAXII

/// The query strings of the API's GET routes, parsed without a running server: exactly what the
/// handlers call, public so that the fuzz targets (`FuzzTargets`, `Fuzz/`) reach it.
///
/// ```swift
/// let q = APIQueryParsing.attribution("addr=198.18.0.7&port=40123&at=2026-11-23T10:00:00Z", now: now)
/// ```
public enum APIQueryParsing {
    /// `GET /api/v1/attribution?…`: the question, or why it is not one.
    public static func attribution(_ query: String, now: Int64) -> Result<AttributionQuery, any Error> {
        let q = URI("/api/v1/attribution?" + query).queryParameters
        let addr: String? = q["addr"].map(String.init)
        let port: String? = q["port"].map(String.init)
        let at: String? = q["at"].map(String.init)
        switch AttributionAPI.question(addr: addr, port: port, at: at, now: now) {
        case .success(let question): return .success(question)
        case .failure(let e): return .failure(e)
        }
    }

    /// `GET /api/v1/findings?…`: the findings query, or why it is not one.
    public static func findings(_ query: String) -> Result<FindingQuery, any Error> {
        switch FindingsAPI.query(URI("/api/v1/findings?" + query).queryParameters) {
        case .success(let q): return .success(q)
        case .failure(let e): return .failure(e)
        }
    }

    /// A TAXII route's query string (`added_after`, `limit`, `next`, `match[…]`; keys and values
    /// percent-decoded as the routes decode them): the filters, or the 400 it gets.
    public static func taxii(_ query: String) -> Result<TAXIIQuery, TAXIIError> {
        do throws(TAXIIError) {
            return .success(try TAXIIQuery.parse(TAXIIAPI.parameters(query: query)))
        } catch {
            return .failure(error)
        }
    }

    /// A time as the API reads one (ms since the epoch or RFC 3339), only within 1970–2100.
    public static func time(_ text: String) -> Int64? { FindingsAPI.time(text) }
}
