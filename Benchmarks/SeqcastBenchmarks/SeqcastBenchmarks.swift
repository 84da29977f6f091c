import Benchmark
import SeqcastCore
import SeqcastWire

let benchmarks: @Sendable () -> Void = {
    Benchmark("Stub") { _ in blackHole(1) }
}
