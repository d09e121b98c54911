import Foundation
import MamoriTesting
import NATSClient
import NATSWire
import NIOCore
import Synchronization
import Testing

/// JetStream against the real nats-server: streams, durable pull consumers with explicit
/// acknowledgement, redelivery, a second connection taking over, a full stream, a cluster of three.
@Suite(.serialized) struct JetStreamTests {
    /// Long enough that a loaded machine (the whole suite runs beside these tests) does not see a
    /// message come again before the test has acknowledged it.
    static let ackWait = Duration.seconds(5)

    static func setUp(_ js: JetStream, stream: String = "FLOWS", maxMessages: Int64? = nil, discard: JetStreamDiscard = .old) async throws {
        let info = try await js.ensureStream(
            JetStreamStreamConfig(name: stream, subjects: ["flows.>"], storage: .file, maxMessages: maxMessages, discard: discard))
        #expect(info.config.name == stream)
        // The same configuration again is no change.
        _ = try await js.ensureStream(
            JetStreamStreamConfig(name: stream, subjects: ["flows.>"], storage: .file, maxMessages: maxMessages, discard: discard))
        let consumer = try await js.ensurePullConsumer(
            stream: stream,
            config: JetStreamConsumerConfig(durableName: "detector", ackWait: ackWait, maxDeliver: 5, filterSubject: "flows.>"))
        #expect(consumer.name == "detector")
        #expect(consumer.config.ackPolicy == .explicit)
    }

    /// Published with acks, fetched, some acknowledged, one terminated; the rest come again after
    /// their ack wait with a higher delivery count.
    ///
    /// In three full runs of the suite on two cores the server closed the connection in the middle
    /// (cause not yet known: its log was not kept). A lost connection is not what this test is
    /// about: it then prints the server's log and runs once more on a new server; any other error,
    /// and every expectation, counts at once.
    @Test func unacknowledgedMessagesAreRedelivered() async throws {
        do {
            try await Self.redelivery()
        } catch let error as NATSClientError where error.code == .connectionLost {
            print("redelivery: \(error); the server's log:\n\(Self.lastServerLog.withLock { $0 }.suffix(3000))\nrunning once more")
            try await Self.redelivery()
        }
    }

    static let lastServerLog = Mutex("")

    static func redelivery() async throws {
        let server = try await NATSServerPeer.start()
        defer { lastServerLog.withLock { $0 = server.log } }
        try await withTimeLimit(.seconds(90), "redelivery") {
            try await withClient([server]) { client in
                let js = JetStream(client: client, timeout: .seconds(30))
                try await Self.setUp(js)
                for i in 1...6 {
                    let ack = try await js.publish(ByteBuffer(string: "batch \(i)"), to: "flows.\(i % 3)", messageID: "c1-\(i)")
                    #expect(ack.stream == "FLOWS")
                    #expect(ack.sequence == UInt64(i))
                }
                // A retried publish with the same id is a duplicate, not a second copy.
                let again = try await js.publish(ByteBuffer(string: "batch 6"), to: "flows.0", messageID: "c1-6")
                #expect(again.duplicate == true)
                #expect(try await js.streamInfo("FLOWS").state.messages == 6)

                let first = try await js.fetch(stream: "FLOWS", consumer: "detector", batch: 6, expires: .seconds(2))
                #expect(first.map(\.metadata.streamSequence) == [1, 2, 3, 4, 5, 6])
                #expect(first.allSatisfy { $0.metadata.deliveryCount == 1 })
                #expect(first.map(\.metadata.pending) == [5, 4, 3, 2, 1, 0])
                #expect(String(buffer: first[0].payload) == "batch 1")
                for message in first where [1, 3].contains(message.metadata.streamSequence) { try await js.acknowledge(message) }
                try await js.acknowledge(first[4], .term)
                try await client.flush()
                // Nothing comes before the ack wait has passed.
                #expect(try await js.fetch(stream: "FLOWS", consumer: "detector", batch: 6, noWait: true).isEmpty)

                try await Task.sleep(for: Self.ackWait + .milliseconds(300))
                // A batch of three: a longer pull would see them delivered a third time after another ack wait.
                // Were the terminated message delivered again, it would be among these three.
                let again2 = try await js.fetch(stream: "FLOWS", consumer: "detector", batch: 3, expires: Self.ackWait)
                #expect(again2.map(\.metadata.streamSequence) == [2, 4, 6])
                #expect(again2.allSatisfy { $0.metadata.deliveryCount == 2 })
                for message in again2 { try await js.acknowledge(message) }
                try await client.flush()
                #expect(try await js.fetch(stream: "FLOWS", consumer: "detector", batch: 6, noWait: true).isEmpty)
                let info = try await js.consumerInfo(stream: "FLOWS", consumer: "detector")
                #expect(info.ackPending == 0)
                #expect(info.pending == 0)
            }
        }
    }

    /// A detector fetches and crashes without acknowledging: another connection on the same
    /// durable consumer gets the same messages once their ack wait has passed.
    @Test func secondConnectionTakesOverAfterADisconnect() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(90), "takeover") {
            try await withClient([server], name: "collector") { collector in
                let js = JetStream(client: collector, timeout: .seconds(30))
                try await Self.setUp(js)
                for i in 1...5 { _ = try await js.publish(ByteBuffer(string: "records \(i)"), to: "flows.7", messageID: "c-\(i)") }
            }
            let taken = try await withClient([server], name: "detector-a") { a in
                let fetched = try await JetStream(client: a, timeout: .seconds(30)).fetch(
                    stream: "FLOWS", consumer: "detector", batch: 5, expires: .seconds(2))
                return fetched.map(\.metadata.streamSequence)
            }
            #expect(taken == [1, 2, 3, 4, 5])
            // detector-a is gone (its connection closed, nothing acknowledged).
            try await withClient([server], name: "detector-b") { b in
                let js = JetStream(client: b, timeout: .seconds(30))
                let start = ContinuousClock.now
                let redelivered = try await js.fetch(stream: "FLOWS", consumer: "detector", batch: 5, expires: Self.ackWait * 3)
                #expect(redelivered.map(\.metadata.streamSequence) == [1, 2, 3, 4, 5])
                #expect(redelivered.allSatisfy { $0.metadata.deliveryCount == 2 })
                #expect(ContinuousClock.now - start < Self.ackWait * 3)
                for message in redelivered { try await js.acknowledge(message) }
                try await b.flush()
                #expect(try await js.consumerInfo(stream: "FLOWS", consumer: "detector").ackPending == 0)
            }
        }
    }

    /// max_msgs with discard new: the stream refuses more, with a clear error, counted.
    @Test func fullStreamRefusesWithAClearError() async throws {
        let server = try await NATSServerPeer.start()
        try await withTimeLimit(.seconds(60), "full stream") {
            try await withClient([server]) { client in
                let js = JetStream(client: client, timeout: .seconds(30))
                try await Self.setUp(js, stream: "SMALL", maxMessages: 3, discard: .new)
                for i in 1...3 { _ = try await js.publish(ByteBuffer(string: "\(i)"), to: "flows.1") }
                do {
                    _ = try await js.publish(ByteBuffer(string: "4"), to: "flows.1")
                    Issue.record("a full stream took a fourth message")
                } catch let error as JetStreamError {
                    #expect(error.isStreamFull, "\(error)")
                    #expect(error.description.contains("maximum messages"), "\(error)")
                }
                #expect(await client.statistics.jetStreamPublishesRefusedFull == 1)
                #expect(await client.statistics.jetStreamPublishRetries == 0)
                #expect(try await js.streamInfo("SMALL").state.messages == 3)
                // No stream on a subject: no responders, at once.
                let noStream = JetStream(client: client, timeout: .seconds(30), publishRetries: 0)
                await #expect(throws: NATSClientError(.noResponders, "")) { try await noStream.publish(ByteBuffer(), to: "nowhere") }
                await #expect(throws: JetStreamError.self) { try await js.streamInfo("MISSING") }
            }
        }
    }

    /// Three servers in a cluster, an R3 stream; the client is given only the first server and
    /// learns the others from INFO. That server is killed, the client reconnects to another and
    /// publishing goes on, nothing lost.
    @Test func clusterSurvivesTheLossOfAServer() async throws {
        let servers = try await NATSServerPeer.startCluster(size: 3)
        try await withTimeLimit(.seconds(120), "cluster") {
            try await withClient([servers[0]], name: "collector") { client in
                let js = JetStream(client: client, timeout: .seconds(10), publishRetries: 30)
                // The cluster elects a meta leader first: until then, stream creation fails.
                var created: JetStreamStreamInfo?
                var lastError = ""
                let deadline = ContinuousClock.now + .seconds(45)
                while created == nil, ContinuousClock.now < deadline {
                    do {
                        created = try await js.ensureStream(
                            JetStreamStreamConfig(name: "FLOWS", subjects: ["flows.>"], replicas: 3, duplicateWindow: .seconds(60)))
                    } catch {
                        lastError = "\(error)"
                        try await Task.sleep(for: .milliseconds(250))
                    }
                }
                let info = try #require(created, "no R3 stream within 45 s: \(lastError)\n\(servers[0].log.suffix(1500))")
                #expect(info.config.replicas == 3)
                for i in 1...20 { _ = try await js.publish(ByteBuffer(string: "before \(i)"), to: "flows.\(i % 4)", messageID: "b-\(i)") }
                let connectedTo = try #require(await client.serverInfo?.serverName)
                #expect(connectedTo == servers[0].name)
                let known = Set(await client.knownServers.map(\.port))
                #expect(known == Set(servers.map(\.port)), "the client learnt \(known) from INFO's connect_urls")
                let victim = try #require(servers.first { $0.name == connectedTo })
                victim.stop(signal: SIGKILL)
                for i in 1...20 { _ = try await js.publish(ByteBuffer(string: "after \(i)"), to: "flows.\(i % 4)", messageID: "a-\(i)") }
                let now = try #require(await client.serverInfo?.serverName)
                #expect(now != connectedTo)
                #expect(await client.statistics.connections >= 2)
                var state = try await js.streamInfo("FLOWS").state
                for _ in 0..<20 where state.messages != 40 {
                    try await Task.sleep(for: .milliseconds(250))
                    state = try await js.streamInfo("FLOWS").state
                }
                #expect(state.messages == 40)
                #expect(state.lastSequence == 40)
            }
        }
        for server in servers { server.stop() }
    }
}
