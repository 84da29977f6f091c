// swift-tools-version: 6.1
// Small applications built on the SeqcastClient library, as a feed developer would write them:
// the README's example, and a market-data feed (a ticker publisher; a subscriber that keeps the
// last price of every symbol and checks sequence continuity, and can serve as the group's
// checkpoint server). scripts/examples-test builds and runs them against a real group.
import PackageDescription

let package = Package(
    name: "seqcast-examples",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "seqcast", path: ".."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(name: "readme-example", dependencies: [.product(name: "SeqcastClient", package: "seqcast")]),
        .target(name: "MarketData", dependencies: [.product(name: "SeqcastClient", package: "seqcast")]),
        .executableTarget(name: "ticker-publisher", dependencies: ["MarketData", .product(name: "SeqcastClient", package: "seqcast")]),
        .executableTarget(name: "service-example", dependencies: [
            .product(name: "SeqcastClient", package: "seqcast"), .product(name: "SeqcastService", package: "seqcast"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "last-price-subscriber", dependencies: ["MarketData", .product(name: "SeqcastClient", package: "seqcast")]),
    ]
)
