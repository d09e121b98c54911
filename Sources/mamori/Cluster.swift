import ArgumentParser
import ClusterBus
import Foundation
import NATSClient
import Server

/// `mamori cluster status`: the nodes, the flow stream and each partition, as NATS sees them.
struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at a cluster of collector and detector nodes (docs/cluster.md).",
        subcommands: [Status.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the nodes, the flow stream and every partition's backlog.",
            discussion: """
                Connects to the NATS servers of the configuration's cluster: section and asks every \
                node to answer (each node of role collector or detector answers on the stream's status \
                subject): its role, whether it is ready (and why not), its store's health, the records \
                it took and the partitions it reads. Then reads the flow stream and each partition's \
                consumer: batches not yet delivered (pending), delivered and not yet acknowledged \
                (ack-pending) and delivered again (redelivered). A partition no detector answers for is \
                flagged: its hosts are not analysed. Exit status 0 when every node that answered is \
                ready and every partition is read, 1 otherwise.

                  mamori cluster status --config /etc/mamori/mamori.yaml
                  mamori cluster status --config /etc/mamori/mamori.yaml --json
                """
        )

        @Option(name: .shortAndLong, help: "The configuration file with the cluster: section (its nats: servers and bus:).")
        var config: String

        @Option(help: ArgumentHelp("How long to wait for the nodes' answers.", valueName: "seconds"))
        var wait: Double = 2

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let configuration: MamoriConfiguration
            do {
                configuration = try MamoriConfiguration.load(path: config)
            } catch {
                FileHandle.standardError.write(Data("mamori: configuration refused: \(error)\n".utf8))
                throw ExitCode(78)
            }
            guard !configuration.cluster.servers.isEmpty else {
                throw ValidationError("\(config) has no cluster.nats.servers: there is no cluster to look at")
            }
            var natsConfiguration = try configuration.cluster.natsConfiguration()
            natsConfiguration.name = "mamori-cluster-status"
            natsConfiguration.maxReconnectAttempts = 3
            natsConfiguration.connectionWait = .seconds(10)
            let client = NATSClient(configuration: natsConfiguration)
            let runner = Task { try await client.run() }
            defer { runner.cancel() }
            let status: ClusterStatus
            do {
                status = try await ClusterStatus.gather(
                    client: client, settings: configuration.cluster.bus, wait: .milliseconds(Int(max(0.1, min(wait, 60)) * 1_000)))
            } catch {
                await client.close()
                throw ValidationError("cannot reach the NATS servers \(configuration.cluster.servers.map(\.description)): \(error)")
            }
            await client.close()
            if json {
                print(status.json)
            } else {
                print(status.rendered, terminator: "")
            }
            let healthy = status.nodes.allSatisfy(\.ready) && !status.nodes.isEmpty && status.partitions.allSatisfy { !$0.owners.isEmpty }
            if !healthy { throw ExitCode(1) }
        }
    }
}
