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
        .library(name: "SeqcastSimulation", targets: ["SeqcastSimulation"]),
        .executable(name: "seqcast-sim", targets: ["seqcast-sim"]),
    ],
    dependencies: [
        // The CLI of seqcast-sim (and later seqcast); the ecosystem's standard parser.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .target(name: "SeqcastWire", exclude: ["WIRE.md"]),
        .target(name: "SeqcastCore", dependencies: ["SeqcastWire"]),
        .target(name: "SeqcastSimulation", dependencies: ["SeqcastCore", "SeqcastWire"]),
        .executableTarget(
            name: "seqcast-sim",
            dependencies: [
                "SeqcastSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SeqcastWireTests", dependencies: ["SeqcastWire"]),
        .testTarget(name: "SeqcastCoreTests", dependencies: ["SeqcastCore", "SeqcastWire"]),
        .testTarget(
            name: "SeqcastSimulationTests",
            dependencies: ["SeqcastSimulation", "SeqcastCore", "SeqcastWire"]
        ),
    ]
)
