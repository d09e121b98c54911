import Foundation
import Hummingbird
import Metrics
import NIOCore

/// The JSON answers every API of the server gives: one encoder (``APIJSON``: snake_case keys,
/// sorted; a trailing newline), and 400s that say what is wrong and are counted in
/// `mamori_api_invalid_requests_total`.
protocol JSONAPI {
    var invalidRequests: Counter { get }
}

extension JSONAPI {
    func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? FindingsAPI.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }

    func bad(_ reason: String) -> Response {
        invalidRequests.increment()
        return json(.badRequest, ["error": reason])
    }
}
