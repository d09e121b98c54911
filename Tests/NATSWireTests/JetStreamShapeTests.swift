import Foundation
import NATSWire
import NIOCore
import Testing

@Suite struct JetStreamShapeTests {
    static func json(_ value: some Encodable) throws -> [String: Any] {
        let buffer = try JetStreamAPI.encode(value)
        return try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] ?? [:]
    }

    @Test func subjects() throws {
        #expect(try JetStreamAPI.streamCreate("FLOWS") == "$JS.API.STREAM.CREATE.FLOWS")
        #expect(try JetStreamAPI.streamInfo("FLOWS") == "$JS.API.STREAM.INFO.FLOWS")
        #expect(try JetStreamAPI.durableConsumerCreate(stream: "FLOWS", durable: "d0") == "$JS.API.CONSUMER.DURABLE.CREATE.FLOWS.d0")
        #expect(try JetStreamAPI.consumerNext(stream: "FLOWS", consumer: "d0") == "$JS.API.CONSUMER.MSG.NEXT.FLOWS.d0")
        for bad in ["", "a.b", "a*", "a>", "a b", String(repeating: "x", count: 256)] {
            #expect(throws: NATSWireError(.invalidName, "")) { try JetStreamAPI.streamCreate(bad) }
        }
    }

    @Test func streamConfig() throws {
        let config = JetStreamStreamConfig(
            name: "FLOWS", subjects: ["flows.>"], retention: .workQueue, storage: .memory, replicas: 3, maxMessages: 10, maxBytes: 1 << 20,
            discard: .new, duplicateWindow: .seconds(120))
        let json = try Self.json(config)
        #expect(json["name"] as? String == "FLOWS")
        #expect(json["subjects"] as? [String] == ["flows.>"])
        #expect(json["retention"] as? String == "workqueue")
        #expect(json["storage"] as? String == "memory")
        #expect(json["num_replicas"] as? Int == 3)
        #expect(json["max_msgs"] as? Int == 10)
        #expect(json["max_bytes"] as? Int == 1 << 20)
        #expect(json["discard"] as? String == "new")
        #expect(json["duplicate_window"] as? Int == 120_000_000_000)
        #expect(json["max_age"] == nil)
    }

    @Test func consumerConfigAndPullRequest() throws {
        let request = JetStreamConsumerCreateRequest(
            streamName: "FLOWS",
            config: JetStreamConsumerConfig(durableName: "d0", ackWait: .milliseconds(1500), maxDeliver: 5, filterSubject: "flows.3"))
        let json = try Self.json(request)
        #expect(json["stream_name"] as? String == "FLOWS")
        let config = json["config"] as? [String: Any] ?? [:]
        #expect(config["durable_name"] as? String == "d0")
        #expect(config["ack_policy"] as? String == "explicit")
        #expect(config["ack_wait"] as? Int == 1_500_000_000)
        #expect(config["max_deliver"] as? Int == 5)
        #expect(config["filter_subject"] as? String == "flows.3")
        #expect(config["deliver_subject"] == nil)
        let pull = try Self.json(JetStreamPullRequest(batch: 10, expires: .seconds(2)))
        #expect(pull["batch"] as? Int == 10)
        #expect(pull["expires"] as? Int == 2_000_000_000)
        #expect(pull["no_wait"] == nil)
        let noWait = try Self.json(JetStreamPullRequest(batch: 1, expires: nil, noWait: true))
        #expect(noWait["no_wait"] as? Bool == true)
        #expect(noWait["expires"] == nil)
    }

    @Test func publishAckAndErrors() throws {
        let ack = try JetStreamAPI.decode(JetStreamPublishAck.self, from: ByteBuffer(string: #"{"stream":"FLOWS","seq":42}"#))
        #expect(ack.stream == "FLOWS")
        #expect(ack.sequence == 42)
        #expect(ack.duplicate == nil)
        let full = ByteBuffer(
            string: #"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"F","seq":0}"#)
        let error = #expect(throws: JetStreamError.self) { try JetStreamAPI.decode(JetStreamPublishAck.self, from: full) }
        #expect(error?.code == 503)
        #expect(error?.errorCode == 10077)
        #expect(error?.isStreamFull == true)
        #expect(error?.description == "maximum messages exceeded")
        let shape = #expect(throws: JetStreamError.self) {
            try JetStreamAPI.decode(JetStreamStreamInfo.self, from: ByteBuffer(string: #"{"type":"x"}"#))
        }
        #expect(shape?.code == 0)
        #expect(shape?.isStreamFull == false)
    }

    @Test func ackPayloads() {
        #expect(String(buffer: JetStreamAckKind.ack.payload) == "+ACK")
        #expect(String(buffer: JetStreamAckKind.nak(delay: nil).payload) == "-NAK")
        #expect(String(buffer: JetStreamAckKind.nak(delay: .seconds(1)).payload) == #"-NAK {"delay":1000000000}"#)
        #expect(String(buffer: JetStreamAckKind.term.payload) == "+TERM")
        #expect(String(buffer: JetStreamAckKind.inProgress.payload) == "+WPI")
    }

    @Test func ackSubjects() throws {
        let v1 = try JetStreamAckMetadata(parsing: "$JS.ACK.FLOWS.d0.2.17.5.1733570000000000000.9")
        #expect(v1.stream == "FLOWS")
        #expect(v1.consumer == "d0")
        #expect(v1.deliveryCount == 2)
        #expect(v1.streamSequence == 17)
        #expect(v1.consumerSequence == 5)
        #expect(v1.timestamp == 1_733_570_000_000_000_000)
        #expect(v1.pending == 9)
        #expect(v1.domain == nil)
        let v2 = try JetStreamAckMetadata(parsing: "$JS.ACK.hub.ACCHASH.FLOWS.d0.1.3.3.1733570000000000000.0.RANDOM")
        #expect(v2.domain == "hub")
        #expect(v2.stream == "FLOWS")
        #expect(v2.deliveryCount == 1)
        #expect(v2.streamSequence == 3)
        let v2NoDomain = try JetStreamAckMetadata(parsing: "$JS.ACK._.ACCHASH.FLOWS.d0.1.3.3.1733570000000000000.0")
        #expect(v2NoDomain.domain == nil)
        for bad in [
            "", "_INBOX.x.1", "$JS.ACK.FLOWS.d0.x.1.1.1.1", "$JS.ACK.FLOWS.d0.1.1.1.1", "$JS.ACK..d0.1.1.1.1.1", "$JS.NAK.F.d.1.1.1.1.1",
        ] {
            #expect(throws: NATSWireError(.malformedAckSubject, ""), "\(bad)") { try JetStreamAckMetadata(parsing: bad) }
        }
    }
}
