// swift-tools-version: 6.1
// Coverage-guided fuzz targets (libFuzzer, Swift's -sanitize=fuzzer) for what reads bytes from
// outside: the datagram decoder, the storage log's frames and the records roles recover from,
// and every role's receive path behind the node (authentication included). A separate package:
// its targets need -parse-as-library (libFuzzer brings main), an unsafe flag the main package
// must not carry. Built and run by scripts/fuzz, in its own scratch folder (.build-fuzz).
import PackageDescription

let fuzzerFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "SeqcastFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "seqcast", path: "..")],
    targets: [
        // What every target shares: a group configuration, a discarding node, input splitting.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "SeqcastWire", package: "seqcast"),
                .product(name: "SeqcastCore", package: "seqcast"),
                .product(name: "SeqcastNode", package: "seqcast"),
                .product(name: "SeqcastSimulation", package: "seqcast"),
            ],
            path: "FuzzSupport"),
        .executableTarget(
            name: "FuzzDatagram",
            dependencies: ["FuzzSupport", .product(name: "SeqcastWire", package: "seqcast")],
            path: "FuzzDatagram", swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzRecords",
            dependencies: [
                "FuzzSupport",
                .product(name: "SeqcastCore", package: "seqcast"),
                .product(name: "SeqcastRuntime", package: "seqcast"),
                .product(name: "SeqcastWire", package: "seqcast"),
            ],
            path: "FuzzRecords", swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzRoles",
            dependencies: [
                "FuzzSupport",
                .product(name: "SeqcastWire", package: "seqcast"),
                .product(name: "SeqcastCore", package: "seqcast"),
                .product(name: "SeqcastNode", package: "seqcast"),
            ],
            path: "FuzzRoles", swiftSettings: fuzzerFlags),
    ]
)
