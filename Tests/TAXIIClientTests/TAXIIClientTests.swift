import Foundation
import MamoriTesting
import NIOCore
import NIOPosix
import TAXIIClient
import Testing

/// Mamori's TAXII client against OASIS medallion (the TAXII 2.1 reference server) as the ISAC's
/// hub on loopback, and against peers that answer garbage or nothing.
@Suite(.timeLimit(.minutes(3)))
struct TAXIIClientTests {
    static let password = "carrier-a's long password"

    /// A STIX 2.1 indicator of `address`, as another carrier would share it.
    static func indicator(_ n: Int, created: String = "2026-11-01T00:00:00.000Z") -> [String: any Sendable] {
        [
            "type": "indicator", "spec_version": "2.1", "id": "indicator--\(String(format: "%08x", n))-0000-4000-8000-000000000000",
            "created": created, "modified": created, "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.\(n)']",
            "valid_from": created, "indicator_types": ["malicious-activity"],
        ]
    }

    static func peer(_ hub: MedallionPeer, _ collection: MedallionPeer.Collection, password: String = password) -> TAXIIPeer {
        TAXIIPeer(
            name: "isac", apiRoot: hub.apiRootURL, collection: collection.id, credentials: .basic(user: "carrier-a", password: password),
            timeout: .seconds(10))
    }

    @Test func pullsPageByPageFromABookmarkAndPushes() async throws {
        let shared = MedallionPeer.Collection(title: "C&C indicators", objects: (1...5).map { Self.indicator($0) })
        let hub = try await MedallionPeer(collections: [shared])
        defer { hub.stop() }
        let (first, second, status, after) = try await TAXIIClient.withClient(Self.peer(hub, shared)) { client in
            let first = try await client.pull(after: nil, limit: 2)
            let second = try await client.pull(after: first.bookmark, limit: 2)
            let pushed = try JSONSerialization.data(withJSONObject: Self.indicator(77, created: "2026-12-01T00:00:00.000Z"))
            let status = try await client.add([pushed])
            let after = try await client.pull(after: first.bookmark, limit: 2)
            return (first, second, status, after)
        }
        let ids = first.objects.compactMap { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any])?["id"] as? String }
        #expect(Set(ids) == Set((1...5).map { Self.indicator($0)["id"] as! String }), "\(hub.log)")
        #expect(first.pages == 3 && !first.truncated, "5 objects at 2 a page")
        #expect(first.bookmark != nil)
        #expect(second.objects.isEmpty && second.bookmark == first.bookmark, "nothing new after the bookmark")
        #expect(status.status == "complete" && status.successes == 1 && status.failures == 0, "\(status)")
        #expect(after.objects.count == 1 && String(decoding: after.objects[0], as: UTF8.self).contains("198.51.100.77"))
        #expect(after.bookmark.map { $0 > first.bookmark! } == true)
    }

    @Test func refusalsSayWhy() async throws {
        let readOnly = MedallionPeer.Collection(title: "read only", canWrite: false)
        let hub = try await MedallionPeer(collections: [readOnly])
        defer { hub.stop() }
        let object = try JSONSerialization.data(withJSONObject: Self.indicator(1))
        do {
            _ = try await TAXIIClient.withClient(Self.peer(hub, readOnly)) { try await $0.add([object]) }
            Issue.record("a write to a read-only collection was accepted")
        } catch let TAXIIClientError.refused(_, status, _) {
            #expect(status == 403)
        }
        do {
            _ = try await TAXIIClient.withClient(Self.peer(hub, readOnly, password: "wrong")) { try await $0.pull(after: nil) }
            Issue.record("a wrong password was accepted")
        } catch let error as TAXIIClientError {
            guard case .refused(_, 401, _) = error else { throw error }
            #expect(error.description.contains("check the account or token"))
        }
    }

    /// Accepts connections on 127.0.0.1 and answers every request with `answer` (nil: never).
    final class CannedPeer: Sendable {
        let channel: any Channel
        init(answer: String?) async throws {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(Answer(answer)) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }
        var port: Int { channel.localAddress!.port! }

        final class Answer: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let answer: String?
            init(_ answer: String?) { self.answer = answer }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                guard let answer else { return }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
            }
        }
    }

    static func http(_ status: String, _ type: String, _ body: String, extra: String = "") -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }

    @Test(arguments: [
        (http("200 OK", "text/html", "<html>login</html>"), "text/html"),
        (http("200 OK", "application/taxii+json;version=2.1", "{\"objects\": 7}"), "objects is not a list"),
        (http("200 OK", "application/taxii+json;version=2.1", "{\"objects\": [{\"id\": 1}]}"), "no type or id"),
        (http("200 OK", "application/taxii+json;version=2.1", "not json"), "not JSON"),
        (http("200 OK", "application/taxii+json;version=2.1", String(repeating: "x", count: 70_000)), "larger than 65536"),
        (http("500 Internal Server Error", "application/taxii+json;version=2.1", "{\"title\": \"database down\"}"), "500: database down"),
    ])
    func garbageIsAClearError(_ answer: String, _ words: String) async throws {
        let peer = try await CannedPeer(answer: answer)
        defer { peer.channel.close(promise: nil) }
        var config = TAXIIPeer(name: "garbage", apiRoot: "http://127.0.0.1:\(peer.port)/api/", collection: "c", timeout: .seconds(5))
        config.maximumAnswerBytes = 65_536
        do {
            let pull = try await TAXIIClient.withClient(config) { try await $0.pull(after: nil) }
            Issue.record("garbage accepted: \(pull.objects.count) objects")
        } catch let error as TAXIIClientError {
            #expect(error.description.contains(words), "\(error)")
        }
    }

    @Test func aPeerThatHangsTimesOut() async throws {
        let peer = try await CannedPeer(answer: nil)
        defer { peer.channel.close(promise: nil) }
        let config = TAXIIPeer(name: "silent", apiRoot: "http://127.0.0.1:\(peer.port)/api/", collection: "c", timeout: .seconds(2))
        let start = ContinuousClock.now
        do {
            _ = try await TAXIIClient.withClient(config) { try await $0.pull(after: nil) }
            Issue.record("an answer from a peer that never answers")
        } catch let error as TAXIIClientError {
            guard case .unreachable(_, let reason) = error else { throw error }
            #expect(reason.contains("in time"), "\(reason)")
        }
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
