// swift-tools-version:6.2
import PackageDescription

// Architecture: a pure algorithm core (OmniZipCore), a wire layer for safetensors/JSON
// (OmniZipWire), the explain report's drawing (OmniZipExplain), the libuv/http_parser server
// (OmniZipServer) and a thin CLI (omnizip). The synthetic workloads (OmniZipSynthetic) serve
// `omnizip bench`, the tests and the benchmarks only, so no library product exports them.
// C libraries enter through system-library targets with shim headers (C*).
let package = Package(
    name: "omnizip",
    products: [
        .executable(name: "omnizip", targets: ["omnizip"]),
        .library(name: "OmniZipCore", targets: ["OmniZipCore"]),
        .library(name: "OmniZipWire", targets: ["OmniZipWire"]),
        .library(name: "OmniZipServer", targets: ["OmniZipServer"]),
        .library(name: "OmniZipExplain", targets: ["OmniZipExplain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", .upToNextMinor(from: "1.8.2")),
        .package(url: "https://github.com/apple/swift-log", .upToNextMinor(from: "1.16.2")),
        .package(url: "https://github.com/apple/swift-metrics", .upToNextMinor(from: "2.13.0")),
        .package(url: "https://github.com/swift-server/swift-prometheus", .upToNextMinor(from: "2.4.1")),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CUV", path: "Sources/CUV", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        // Kernel interfaces from libc headers alone (nothing to link).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        // Our own C: hot loops with run-time AVX2/AVX-512 dispatch and pinned rounding; each
        // source states its floating-point contract (no contraction) itself.
        .target(name: "COmniZipKernels"),
        .target(name: "OmniZipCore", dependencies: ["CBLAS", "COmniZipKernels"]),
        .target(name: "OmniZipWire", dependencies: ["OmniZipCore"]),
        // The explain report's drawing (HTML + SVG), kept apart from the pipeline; no I/O.
        .target(name: "OmniZipExplain", dependencies: ["OmniZipCore", "OmniZipWire"]),
        .target(name: "OmniZipSynthetic", dependencies: ["OmniZipCore", "OmniZipWire"]),
        .target(
            name: "OmniZipServer",
            dependencies: [
                "OmniZipCore", "OmniZipWire", "OmniZipExplain", "CUV", "CHTTPParser", "CLinux",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .executableTarget(
            name: "omnizip",
            dependencies: [
                "OmniZipCore", "OmniZipWire", "OmniZipServer", "OmniZipExplain", "OmniZipSynthetic",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // What the test targets share: golden vectors (the small cases as resources), the one
        // parity check, tensor bundles, seeded randomness, prerequisites and how to find them.
        // Not a product: nothing outside the tests may depend on it.
        .target(
            name: "OmniZipTestSupport", dependencies: ["OmniZipCore", "OmniZipWire"], path: "Tests/OmniZipTestSupport",
            resources: [.copy("Fixtures")]),
        .testTarget(name: "OmniZipCoreTests", dependencies: ["OmniZipCore", "OmniZipWire", "OmniZipSynthetic", "OmniZipTestSupport"]),
        .testTarget(name: "OmniZipWireTests", dependencies: ["OmniZipWire", "OmniZipTestSupport"]),
        .testTarget(
            name: "OmniZipExplainTests",
            dependencies: [
                "OmniZipExplain", "OmniZipWire", "OmniZipCore", "OmniZipSynthetic",
                "OmniZipTestSupport",
            ]),
        .testTarget(name: "OmniZipServerTests", dependencies: ["OmniZipServer", "OmniZipWire", "OmniZipCore", "OmniZipTestSupport"]),
        // Runs the built `omnizip` (found by OmniZipTestSupport's OmniZipBinary); no dependency on
        // the executable target, which would link its code into the test bundle.
        .testTarget(name: "OmniZipCLITests", dependencies: ["OmniZipCore", "OmniZipWire", "OmniZipTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (`make fuzz`), only in a build that asks for them: they have no `main`
// and link only with -sanitize=fuzzer.
if Context.environment["OMNIZIP_FUZZ"] != nil {
    package.targets += [
        .executableTarget(name: "FuzzRequestDecoding", dependencies: ["OmniZipCore", "OmniZipWire"], path: "Fuzz/FuzzRequestDecoding"),
        .executableTarget(
            name: "FuzzHTTP", dependencies: ["OmniZipServer", .product(name: "Logging", package: "swift-log")],
            path: "Fuzz/FuzzHTTP"),
        // The protocol core without sockets (internal types: a debug build's testable import).
        .executableTarget(name: "FuzzConnectionCore", dependencies: ["OmniZipServer"], path: "Fuzz/FuzzConnectionCore"),
    ]
}

// Benchmarks with stored thresholds (`make bench-check`, Benchmarks/), only in a build that
// asks for them, so that users of the package never resolve ordo-one/benchmark and its
// dependencies. Only its MallocInterposer trait (allocation counts): the default traits add a
// Swift runtime interposer for ARC counts, a package these benchmarks have no use for.
if Context.environment["OMNIZIP_BENCHMARKS"] != nil {
    package.dependencies += [
        .package(url: "https://github.com/ordo-one/benchmark", .upToNextMinor(from: "1.38.1"), traits: ["MallocInterposer"])
    ]
    package.targets += [
        .executableTarget(
            name: "OmniZipBenchmarks",
            dependencies: ["OmniZipCore", "OmniZipWire", "OmniZipSynthetic", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/OmniZipBenchmarks", plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")])
    ]
}
