// swift-tools-version:6.1
// Coverage-guided fuzzing of Mamori's parsers with libFuzzer (Swift's built-in support on Linux).
// A package of its own, so that the main build never compiles these executables (they call
// libFuzzer's driver, present only with -sanitize=fuzzer). The targets themselves live in the main
// package (Sources/FuzzTargets), where the test suite replays Corpus/ and Crashes/. See README.md.
import Foundation
import PackageDescription

// The main package is the parent directory; SwiftPM names a path dependency after its folder.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let mamori = parent.lastPathComponent.lowercased()

let package = Package(
    name: "mamori-fuzz",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "fuzz", targets: ["fuzz"])],
    dependencies: [.package(path: parent.path)],
    targets: [
        // `fuzz TARGET …`: one driver for every target of Sources/FuzzTargets.
        .executableTarget(name: "fuzz", dependencies: [.product(name: "FuzzTargets", package: mamori)], path: "Sources/fuzz")
    ]
)
