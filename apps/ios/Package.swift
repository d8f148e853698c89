// swift-tools-version:5.9
// The app's pure-Swift logic (contract, preprocessing, latency statistics, labels) as a library with unit
// tests, so `swift build` / `swift test` prove it without Xcode -- on a Mac, or on Linux with Debian's
// swiftlang (tests/apps/test_app_swift.py). The app itself is EdgeVit.xcodeproj, whose synchronized
// EdgeVit/ folder holds EdgeVit/Core/ too: one copy of each file.
import PackageDescription

let package = Package(
    name: "EdgeVitCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    targets: [
        .target(
            name: "EdgeVitCore",
            path: "EdgeVit/Core"
        ),
        .testTarget(
            name: "EdgeVitCoreTests",
            dependencies: ["EdgeVitCore"],
            path: "Tests/EdgeVitCoreTests"
        ),
    ]
)
