// swift-tools-version: 6.1
// Seqcast: Scalable Atomic Multicast. The core targets (SeqcastWire, SeqcastCore) depend on the
// standard library only; the simulator adds nothing; only the executables use ArgumentParser.
// Benchmarks live in their own package (Benchmarks/Package.swift) so `swift build` here never
// resolves or builds ordo-one/benchmark.
import PackageDescription

let package = Package(
    name: "seqcast",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SeqcastWire", targets: ["SeqcastWire"]),
        .library(name: "SeqcastCore", targets: ["SeqcastCore"]),
        .library(name: "SeqcastNode", targets: ["SeqcastNode"]),
        .library(name: "SeqcastSimulation", targets: ["SeqcastSimulation"]),
        .library(name: "SeqcastConfig", targets: ["SeqcastConfig"]),
        .library(name: "SeqcastTransport", targets: ["SeqcastTransport"]),
        .library(name: "SeqcastRuntime", targets: ["SeqcastRuntime"]),
        // What an application embeds: a member that publishes and delivers (SeqcastMember).
        .library(name: "SeqcastClient", targets: ["SeqcastClient"]),
        // The same member as a swift-service-lifecycle Service with AsyncStreams.
        .library(name: "SeqcastService", targets: ["SeqcastService"]),
        .library(name: "SeqcastFeed", targets: ["SeqcastFeed"]),
        .executable(name: "seqcast-sim", targets: ["seqcast-sim"]),
        .executable(name: "seqcast", targets: ["seqcast"]),
    ],
    dependencies: [
        // The CLI of seqcast-sim (and later seqcast); the ecosystem's standard parser.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Publish-to-delivery latency percentiles (seqcast bench), the standard recorder.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // The group configuration file's parser (YAML, over libyaml). Chosen over TOMLKit 0.6.0:
        // both build in ~18 s on 2 cores, but Yams gives every node its line and column and says
        // "expected Int, found Scalar" where TOMLKit reports a wrong type as a missing key.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // `seqcast stats --prometheus`: the exposition format from the ecosystem's own encoder
        // (the executable only; ~25 s of build on 2 cores with swift-metrics and swift-atomics).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Levelled logging for the processes and the library (the ecosystem's logging API).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // SeqcastMemberService: a member as a Service of the server ecosystem (its own product,
        // so an application that polls does not build swift-async-algorithms and collections).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "SeqcastWire", exclude: ["WIRE.md"]),
        // No -cross-module-optimization (measured ~5 % on seqcast bench): unsafeFlags would make
        // SwiftPM refuse this package as a versioned dependency of an embedding application.
        .target(name: "SeqcastCore", dependencies: ["SeqcastWire"], exclude: ["Sequencer/FAILOVER.md"]),
        // The node driver: a role between the two seams (datagram transport, log store), the
        // group layout and routing, per-node policies. Still no syscalls (style.md §6.1).
        .target(name: "SeqcastNode", dependencies: ["SeqcastCore", "SeqcastWire", "CSeqcastMAC"],
                exclude: ["Authentication/THREAT.md"]),
        // Datagram tags: GMAC under per-incarnation subkeys derived with HMAC-SHA-256 (OpenSSL's
        // AES-NI, carry-less multiply and SHA-NI code), no allocation per tag.
        .target(name: "CSeqcastMAC", path: "CSources/CSeqcastMAC", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "SeqcastSimulation", dependencies: ["SeqcastNode", "SeqcastCore", "SeqcastWire"]),
        // The group configuration file: YAML to `GroupLayout`, every refusal with field and line.
        .target(
            name: "SeqcastConfig",
            dependencies: ["SeqcastNode", "SeqcastCore", "SeqcastWire", .product(name: "Yams", package: "Yams")]
        ),
        // io_uring / sendmmsg batched UDP with GSO/GRO, sockets, pinning, futexes (seqcast_shim.h).
        .target(
            name: "CSeqcastShim",
            path: "CSources/CSeqcastShim",
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("numa")]
        ),
        // Real sockets: the node's DatagramTransport (NodeNetwork), GSO send staging, batched
        // receive over io_uring or recvmmsg.
        .target(
            name: "SeqcastTransport",
            dependencies: ["SeqcastNode", "SeqcastCore", "SeqcastWire", "CSeqcastShim"]
        ),
        // The process runtime an embedding application links: the role loop over a node, thread
        // modes and the SPSC ring, the state files, the system-call policy.
        .target(
            name: "SeqcastRuntime",
            dependencies: ["SeqcastTransport", "SeqcastNode", "SeqcastCore", "SeqcastWire", "CSeqcastShim"],
            exclude: ["Storage/STORAGE.md"]
        ),
        // The library a feed application embeds: `SeqcastMember` (join a group from its file,
        // publish, poll deliveries, events, start positions, checkpoint state).
        .target(
            name: "SeqcastClient",
            dependencies: ["SeqcastConfig", "SeqcastRuntime", "SeqcastTransport", "SeqcastNode", "SeqcastCore", "SeqcastWire",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The committed stream as a MoldUDP64 feed: gateways, a re-request server, a feed
        // handler (FEED.md).
        .target(
            name: "SeqcastFeed",
            dependencies: ["SeqcastClient", "SeqcastConfig", "SeqcastRuntime", "SeqcastTransport", "SeqcastNode", "SeqcastCore", "CSeqcastShim",
                           .product(name: "Logging", package: "swift-log")],
            exclude: ["FEED.md"]
        ),
        .target(
            name: "SeqcastService",
            dependencies: ["SeqcastClient", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // The benchmark workload and application (`seqcast run` / `seqcast bench`), outside the
        // library; latency percentiles with HdrHistogram.
        .target(
            name: "SeqcastBench",
            dependencies: [
                "SeqcastRuntime", "SeqcastTransport", "SeqcastNode", "SeqcastCore", "SeqcastWire", "CSeqcastShim",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "seqcast",
            dependencies: [
                "SeqcastBench", "SeqcastClient", "SeqcastConfig", "SeqcastFeed", "SeqcastRuntime", "SeqcastTransport", "SeqcastNode", "SeqcastCore",
                "SeqcastWire", "CSeqcastShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "seqcast-sim",
            dependencies: [
                "SeqcastSimulation", "SeqcastNode", "SeqcastCore", "SeqcastWire", "SeqcastRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SeqcastWireTests", dependencies: ["SeqcastWire"]),
        // Scenario tests drive roles through the node with the simulator's network and disk.
        .testTarget(name: "SeqcastCoreTests",
                    dependencies: ["SeqcastCore", "SeqcastWire", "SeqcastNode", "SeqcastSimulation"]),
        .testTarget(name: "SeqcastClientTests", dependencies: ["SeqcastClient", "SeqcastCore", "SeqcastWire"]),
        .testTarget(name: "SeqcastFeedTests", dependencies: ["SeqcastFeed", "SeqcastConfig", "SeqcastNode"]),
        .testTarget(name: "SeqcastNodeTests", dependencies: ["SeqcastNode", "SeqcastCore", "SeqcastWire"]),
        .testTarget(name: "SeqcastConfigTests", dependencies: ["SeqcastConfig", "SeqcastNode", "SeqcastCore", "SeqcastWire"]),
        .testTarget(name: "SeqcastTransportTests", dependencies: ["SeqcastTransport", "SeqcastCore", "SeqcastWire"]),
        .testTarget(name: "SeqcastRuntimeTests",
                    dependencies: ["SeqcastBench", "SeqcastRuntime", "SeqcastNode", "SeqcastCore", "SeqcastWire"]),
        .testTarget(
            name: "SeqcastSimulationTests",
            dependencies: ["SeqcastSimulation", "SeqcastNode", "SeqcastCore", "SeqcastWire"]
        ),
    ]
)
