import Hummingbird
import Metrics
import NIOCore

extension Routes {
    /// The routes of the notice pages' own listener (`http.public`): the HTTP guard (Host checked
    /// against `allowedNames`; IP literals and `localhost` pass as everywhere) and `GET /healthz`,
    /// which there says only `{"status": …}` — the listener faces subscribers, not the operator's
    /// monitoring. ``CaseAPI/registerNoticePages(on:)`` adds the pages; every other path is 404.
    /// Rules go into `table`, the one table of every listener's routes.
    static func noticeListener(
        allowedNames: [String], strictTransportSecurity: Bool, table: RouteAccessTable, metricsFactory: any MetricsFactory,
        status: @escaping @Sendable () -> String
    ) -> Routes {
        let router = Router(context: MamoriRequestContext.self)
        router.add(
            middleware: HTTPGuardMiddleware(
                allowedNames: allowedNames, strictTransportSecurity: strictTransportSecurity, metricsFactory: metricsFactory))
        let routes = Routes(router: router, table: table)
        routes.get("/healthz", .open) { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"\(status())\"}\n")))
        }
        return routes
    }
}
