// swift-tools-version: 6.1
// Seqcast benchmarks: a separate package so the main package never resolves or builds
// ordo-one/benchmark. Run with `scripts/bench` from the repository root (or
// `swift package --package-path Benchmarks benchmark`).
import PackageDescription

let package = Package(
    name: "SeqcastBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` pins the identity: a bare path dependency takes the name of the checkout
        // directory, which differs between clones.
        .package(name: "seqcast", path: ".."),
        // Only the MallocInterposer trait: the default traits also enable RuntimeInterposer,
        // whose package (swift-runtime-interposer) is not available here.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The hot-path rigs, shared by the benchmarks and the CI performance gate.
        .target(
            name: "SeqcastRigs",
            dependencies: [
                .product(name: "SeqcastCore", package: "seqcast"),
                .product(name: "SeqcastWire", package: "seqcast"),
                .product(name: "SeqcastNode", package: "seqcast"),
                .product(name: "SeqcastClient", package: "seqcast"),
            ],
            path: "SeqcastRigs"
        ),
        // The CI performance gate's workload, run under callgrind by scripts/perf-gate (no
        // benchmark library: instructions and allocations are counted by valgrind).
        .executableTarget(name: "PerfGate", dependencies: ["SeqcastRigs"], path: "PerfGate"),
        .executableTarget(
            name: "SeqcastBenchmarks",
            dependencies: [
                "SeqcastRigs",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeqcastCore", package: "seqcast"),
                .product(name: "SeqcastWire", package: "seqcast"),
            ],
            path: "SeqcastBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // SeqcastRuntime's SPSC ring (cross-thread and same-thread, against a Mutex baseline)
        // and the receive path's allocations per datagram.
        .executableTarget(
            name: "RingBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeqcastRuntime", package: "seqcast"),
                .product(name: "SeqcastTransport", package: "seqcast"),
                .product(name: "SeqcastWire", package: "seqcast"),
            ],
            path: "RingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
