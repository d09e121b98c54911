import MamoriTesting
import NATSClient
import NATSWire
import NIOCore
import Testing

/// Core NATS against the real nats-server: publish/subscribe, headers, request/reply, limits, reconnect.
@Suite(.serialized) struct NATSCoreTests {
    @Test func publishSubscribeRoundTrip() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "publish/subscribe") {
            try await withClient([server], name: "subscriber") { subscriber in
                let subscription = try await subscriber.subscribe(to: "flows.>")
                try await subscriber.flush()
                let info = await subscriber.serverInfo
                #expect(info?.version == "2.9.10")
                #expect(info?.headers == true)
                try await withClient([server], name: "publisher") { publisher in
                    try await publisher.publish(ByteBuffer(string: "one"), to: "flows.1")
                    var headers = NATSHeaders()
                    headers.append("Mamori-Batch", "7")
                    headers.append("Mamori-Batch", "8")
                    try await publisher.publish(ByteBuffer(string: "two"), to: "flows.2.x", replyTo: "answers.here", headers: headers)
                    try await publisher.publish(ByteBuffer(), to: "flows.3")
                    try await publisher.publish(ByteBuffer(string: "not mine"), to: "other")
                    try await publisher.flush()
                }
                let messages = try await receive(3, from: subscription)
                #expect(messages.map(\.subject) == ["flows.1", "flows.2.x", "flows.3"])
                #expect(messages.map { String(buffer: $0.payload) } == ["one", "two", ""])
                #expect(messages[0].headers == nil)
                #expect(messages[1].headers?.values("Mamori-Batch") == ["7", "8"])
                #expect(messages[1].replyTo == "answers.here")
                let statistics = await subscriber.statistics
                #expect(statistics.messagesReceived == 3)
                #expect(statistics.messagesDropped == 0)
            }
        }
    }

    @Test func payloadOverMaxPayloadIsRefused() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "max_payload") {
            try await withClient([server]) { client in
                try await client.flush()
                let limit = try #require(await client.serverInfo?.maxPayload)
                #expect(limit == 1_048_576)
                await #expect(throws: NATSClientError(.payloadTooLarge, "")) {
                    try await client.publish(ByteBuffer(repeating: 0x41, count: limit + 1), to: "big")
                }
                // The connection is still fine.
                try await client.flush()
            }
        }
    }

    @Test func requestReply() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "request/reply") {
            try await withClient([server], name: "responder") { responder in
                let service = try await responder.subscribe(to: "svc.upper", queueGroup: "workers")
                // Kept until the end: a subscription that is dropped unsubscribes.
                let silent = try await responder.subscribe(to: "svc.silent")
                try await responder.flush()
                let serving = Task {
                    for try await request in service {
                        guard let reply = request.replyTo else { continue }
                        try await responder.publish(ByteBuffer(string: String(buffer: request.payload).uppercased()), to: reply)
                    }
                }
                defer { serving.cancel() }
                try await withClient([server], name: "requester") { requester in
                    for word in ["flow", "botnet", "mamori"] {
                        let answer = try await requester.request(ByteBuffer(string: word), to: "svc.upper", timeout: .seconds(5))
                        #expect(String(buffer: answer.payload) == word.uppercased())
                    }
                    await #expect(throws: NATSClientError(.noResponders, "")) {
                        try await requester.request(ByteBuffer(string: "?"), to: "svc.nobody", timeout: .seconds(5))
                    }
                    let start = ContinuousClock.now
                    await #expect(throws: NATSClientError(.timeout, "")) {
                        try await requester.request(ByteBuffer(string: "?"), to: "svc.silent", timeout: .milliseconds(300))
                    }
                    #expect(ContinuousClock.now - start < .seconds(3))
                    #expect(await requester.statistics.requestTimeouts == 1)
                }
                await silent.unsubscribe()
            }
        }
    }

    /// A subscription nobody reads holds at most its capacity; the rest is dropped and counted.
    @Test func aSlowSubscriptionIsBounded() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "bounded subscription") {
            try await withClient([server], configure: { $0.subscriptionCapacity = 5 }) { client in
                let subscription = try await client.subscribe(to: "flood")
                try await client.flush()
                for i in 0..<20 { try await client.publish(ByteBuffer(string: "\(i)"), to: "flood") }
                try await client.flush()
                #expect(await client.statistics.messagesDropped == 15)
                let kept = try await receive(5, from: subscription)
                #expect(kept.map { String(buffer: $0.payload) } == ["0", "1", "2", "3", "4"])
            }
        }
    }

    /// The connection drops; the client connects again and sends its subscriptions again.
    @Test func subscriptionsSurviveAReconnect() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "reconnect") {
            try await withClient([server], name: "subscriber") { client in
                let subscription = try await client.subscribe(to: "alerts")
                try await client.flush()
                #expect(await client.statistics.connections == 1)
                await client.dropConnection()
                #expect(
                    try await eventually {
                        let connections = await client.statistics.connections
                        let up = await client.isConnected
                        return connections == 2 && up
                    })
                try await withClient([server], name: "publisher") { publisher in
                    try await publisher.publish(ByteBuffer(string: "after"), to: "alerts")
                    try await publisher.flush()
                }
                let messages = try await receive(1, from: subscription)
                #expect(messages.map { String(buffer: $0.payload) } == ["after"])
            }
        }
    }

    /// Without a server, run() gives up after the configured attempts, and waiting operations fail.
    @Test func noServerGivesUpBounded() async throws {
        let port = try freeTCPPort()
        var configuration = NATSClient.Configuration(servers: [NATSServerAddress(host: "127.0.0.1", port: port)])
        configuration.maxReconnectAttempts = 3
        configuration.reconnectBackoff = .milliseconds(10)
        configuration.connectionWait = .seconds(1)
        let client = NATSClient(configuration: configuration)
        try await withTimeLimit(.seconds(30), "give up") {
            await #expect(throws: NATSClientError(.noServerReachable, "")) { try await client.run() }
        }
        await #expect(throws: NATSClientError(.closed, "")) { try await client.publish(ByteBuffer(), to: "x") }
        #expect(await client.statistics.failedConnectionAttempts == 3)
    }
}
